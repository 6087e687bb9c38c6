import numpy as np
import pytest

from vizcore import dream
from vizcore.errors import VizcoreError

QUICK = dream.DreamSettings(octaves=2, steps_per_octave=6, step_size=0.01)


@pytest.fixture(scope="module")
def small_cat(chelsea):
    return chelsea[::2, ::2].copy()  # 150 x 226


@pytest.fixture(scope="module")
def dreamed(embedded_model, small_cat):
    return dream.deep_dream(embedded_model, small_cat, settings=QUICK)


def test_the_dream_differs_clearly_stays_in_range_and_keeps_the_size(small_cat, dreamed):
    assert dreamed.image.shape == small_cat.shape and dreamed.image.dtype == np.uint8
    assert np.abs(dreamed.image.astype(int) - small_cat.astype(int)).mean() > 8
    assert dreamed.steps_done == 12 and not dreamed.stopped


def test_the_dream_raises_the_chosen_layers(dreamed):
    for layer, before in dreamed.input_activation.items():
        assert dreamed.dream_activation[layer] > before + 0.5, layer


def test_same_seed_same_dream(embedded_model, small_cat, dreamed):
    again = dream.deep_dream(embedded_model, small_cat, settings=QUICK)
    np.testing.assert_array_equal(again.image, dreamed.image)


def test_tiled_and_untiled_gradients_agree(embedded_model, chelsea):
    """Four 96 px tiles give the whole-image gradient, up to the tiles' own borders."""
    image = chelsea[:192, :192].astype(np.float32)
    layers = {"stage3_block2_add": 1.0}
    whole = dream.tiled_gradient(embedded_model, image, layers, tile=512)
    tiled = dream.tiled_gradient(embedded_model, image, layers, tile=96)
    cosine = float((whole * tiled).sum() / np.linalg.norm(whole) / np.linalg.norm(tiled))
    assert cosine > 0.9, cosine
    assert np.linalg.norm(tiled) == pytest.approx(np.linalg.norm(whole), rel=0.2)


def test_octaves_grow_to_the_image_size():
    shapes = dream.octave_shapes(300, 451, 3, 1.5)
    assert shapes[-1] == (300, 451) and shapes[0] == (133, 200)


def test_stop_within_one_step(embedded_model, small_cat):
    seen = []
    result = dream.deep_dream(embedded_model, small_cat, settings=QUICK, on_progress=seen.append,
                              should_stop=lambda: len(seen) >= 3)
    assert result.stopped and result.steps_done == 3 and len(seen) == 3


@pytest.mark.parametrize("settings, options, message", [
    (dream.DreamSettings(octaves=4, steps_per_octave=100), {"max_steps": 200}, "at most 200 steps"),
    (QUICK, {"max_pixels": 1000}, "capped at"),
    (dream.DreamSettings(octave_scale=3.0), {}, "octave scale"),
])
def test_requests_over_the_caps_are_refused(embedded_model, small_cat, settings, options, message):
    with pytest.raises(VizcoreError, match=message):
        dream.deep_dream(embedded_model, small_cat, settings=settings, **options)


def test_unknown_layer_is_a_clear_error(embedded_model, small_cat):
    with pytest.raises(VizcoreError, match="no layer called 'mixed3'"):
        dream.deep_dream(embedded_model, small_cat, {"mixed3": 1.0}, QUICK)


def test_a_long_dream_stops_at_its_time_cap(embedded_model, small_cat):
    long_dream = dream.DreamSettings(octaves=1, steps_per_octave=1000)
    result = dream.deep_dream(embedded_model, small_cat, settings=long_dream, max_seconds=0.5)
    assert result.stopped and 1 <= result.steps_done < 1000
    assert result.image.shape == small_cat.shape


def test_new_sizes_and_seeds_reuse_the_traced_step(embedded_model, small_cat, dreamed):
    traces = embedded_model.derived.tracing_counts()["dream_step"]
    other = dream.DreamSettings(octaves=3, steps_per_octave=1, seed=5)
    dream.deep_dream(embedded_model, small_cat[:100, :120].copy(), settings=other)
    assert embedded_model.derived.tracing_counts()["dream_step"] == traces
