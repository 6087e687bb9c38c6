import keras
import numpy as np
import pytest

from vizcore import activations
from vizcore.errors import VizcoreError
from vizcore.optimize import CHANNELS, ChannelMean, FourierImage, PixelImage, feature_model, layer_outputs, render
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
    assert [u.step for u in updates if u.images is not None] == [4]
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
