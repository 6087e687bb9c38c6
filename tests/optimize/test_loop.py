import keras
import numpy as np
import pytest

from vizcore import activations
from vizcore.errors import VizcoreError
from vizcore.optimize import (
    CHANNELS, STANDARD_TRANSFORMS, ChannelMean, FourierImage, PixelImage, Stage, feature_model, layer_outputs, render,
)
from vizcore.models.inference import model_input

LAYER = "stage3_block2_add"


def _render(model, channels, **options):
    settings = dict(batch=len(channels), size=64, steps=6, seed=0, targets={CHANNELS: np.asarray(channels, np.int32)})
    settings.update(options)
    return render(model, ChannelMean(LAYER), FourierImage(), **settings)


def test_feature_model_reads_the_same_features_as_the_shared_model(embedded_model, chelsea):
    pixels = model_input(embedded_model, chelsea)
    images = (embedded_model.spec.preprocessing.to_pixels(pixels) / 255.0).astype(np.float32)
    for layer in ("stem_relu", LAYER, "stage5_block3_add"):
        expected = activations.layer_activations(embedded_model, chelsea, layer)
        got = layer_outputs(embedded_model, (layer,), images)[layer][0]
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_feature_model_is_built_once_and_leaves_the_shared_model_alone(embedded_model):
    weights = [w.copy() for w in embedded_model.keras_model.get_weights()]
    first = feature_model(embedded_model, (LAYER,))
    assert feature_model(embedded_model, (LAYER,)) is first
    assert not set(map(id, first.weights)) & set(map(id, embedded_model.keras_model.weights))
    _render(embedded_model, [0, 1])
    for before, after in zip(weights, embedded_model.keras_model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_new_channels_seeds_and_lengths_reuse_one_trace(embedded_model):
    _render(embedded_model, [0, 1, 2])
    traces = embedded_model.derived.tracing_counts()["ascent_step"]
    _render(embedded_model, [5, 9, 30], seed=3, steps=3)
    _render(embedded_model, [7, 7, 1], seed=4, learning_rate=0.1)
    assert embedded_model.derived.tracing_counts()["ascent_step"] == traces


def test_progress_every_step_previews_on_schedule_and_stop_within_one_step(embedded_model):
    updates = []
    result = _render(embedded_model, [0, 1], steps=10, preview_every=4, on_progress=updates.append,
                     should_stop=lambda: len(updates) >= 7)
    assert result.stopped and result.steps_done == 7
    assert [u.step for u in updates] == list(range(1, 8))
    assert [u.step for u in updates if u.images is not None] == [1, 4]  # the first step, then on schedule
    assert updates[3].images.shape == (2, 64, 64, 3)

    finished = []
    result = _render(embedded_model, [0, 1], steps=5, preview_every=0, on_progress=finished.append)
    assert not result.stopped and result.steps_done == 5
    assert finished[-1].images is not None  # the last step always comes with its picture


def test_the_objective_climbs(embedded_model):
    result = _render(embedded_model, [3, 4], steps=24)
    before = layer_outputs(embedded_model, (LAYER,), result.initial_images)[LAYER].mean(axis=(1, 2))
    after = layer_outputs(embedded_model, (LAYER,), result.images)[LAYER].mean(axis=(1, 2))
    assert after[0, 3] > before[0, 3] + 5 and after[1, 4] > before[1, 4] + 5
    assert result.images.min() >= 0 and result.images.max() <= 1


def test_unknown_layer_and_flat_layer_are_clear_errors(embedded_model):
    with pytest.raises(VizcoreError, match="no layer called 'nope'"):
        feature_model(embedded_model, ("nope",))
    with pytest.raises(VizcoreError, match="no feature map"):
        feature_model(embedded_model, ("logits",))


def test_a_model_built_here_works_at_any_size():
    from vizcore.models import get_preprocessing
    from vizcore.models.spec import LoadedModel, ModelSpec, Presets

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(inputs)
    x = keras.layers.BatchNormalization(name="bn_a")(keras.layers.Conv2D(5, 3, name="conv_b")(x))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    spec = ModelSpec("tiny", "Tiny", lambda: model, 32, get_preprocessing("unit"), lambda: ("a", "b"),
                     Presets(("bn_a",), "bn_a", {"bn_a": 1.0}, ("conv_a",), "bn_a"))
    loaded = LoadedModel(spec, model)
    result = render(loaded, ChannelMean("bn_a"), PixelImage(), batch=2, size=48, steps=3,
                    targets={CHANNELS: np.array([0, 4], np.int32)})
    assert result.images.shape == (2, 48, 48, 3)


def test_a_run_stops_at_its_time_cap_and_none_means_no_cap(embedded_model):
    capped = _render(embedded_model, [0, 1], steps=100_000, max_seconds=0.5)
    assert capped.stopped and 1 <= capped.steps_done < 100_000
    uncapped = _render(embedded_model, [0, 1], steps=3, max_seconds=None)
    assert not uncapped.stopped and uncapped.steps_done == 3


HALF_THEN_FULL = (Stage(6, tile=2), Stage(4, transforms=STANDARD_TRANSFORMS[:1], warm_up=2))


def test_a_half_size_stage_previews_the_full_image_and_hands_it_on(embedded_model):
    updates = []
    result = _render(embedded_model, [0, 1], stages=HALF_THEN_FULL, preview_every=2, on_progress=updates.append)
    assert result.steps_done == 10 and [u.steps for u in updates] == [10] * 10
    assert result.images.shape == result.initial_images.shape == (2, 64, 64, 3)
    tile_preview = updates[5].images  # the last half-size step: the 32 px tile repeated 2 x 2
    assert tile_preview.shape == (2, 64, 64, 3)
    np.testing.assert_array_equal(tile_preview[:, :32, :32], tile_preview[:, 32:, 32:])
    # The full-size steps go on from that picture: they change it, and no longer repeat it.
    assert 0 < np.abs(result.images - tile_preview).mean() < 0.2
    assert np.abs(result.images[:, :32, :32] - result.images[:, 32:, 32:]).mean() > 1e-3


def test_staged_runs_of_new_sizes_add_a_bounded_number_of_traces(embedded_model):
    _render(embedded_model, [0, 1], stages=HALF_THEN_FULL, size=64)
    _render(embedded_model, [0, 1], stages=HALF_THEN_FULL, size=96)
    traces = embedded_model.derived.tracing_counts()["ascent_step"]
    for size in (128, 80, 160):
        _render(embedded_model, [0, 1], stages=HALF_THEN_FULL, size=size, steps=2)
    assert embedded_model.derived.tracing_counts()["ascent_step"] == traces


def test_stages_that_do_not_fit_the_size_are_refused(embedded_model):
    with pytest.raises(VizcoreError, match="cannot be split into 2 x 2 tiles"):
        _render(embedded_model, [0], size=63, stages=HALF_THEN_FULL)
    with pytest.raises(VizcoreError, match="tiles must divide"):
        _render(embedded_model, [0], stages=(Stage(2, tile=2), Stage(2, tile=4)))


def test_a_staged_run_stops_within_one_step_in_either_stage(embedded_model):
    for stop_after in (3, 8):
        updates = []
        result = _render(embedded_model, [0, 1], stages=HALF_THEN_FULL, on_progress=updates.append,
                         should_stop=lambda: len(updates) >= stop_after)
        assert result.stopped and result.steps_done == stop_after and result.images.shape == (2, 64, 64, 3)
