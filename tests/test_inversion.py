import json

import numpy as np
import pytest

from vizcore import inversion
from vizcore.errors import VizcoreError

SHALLOW, DEEP = "stage2_block2_add", "stage6_block4_add"
QUICK = inversion.InversionSettings(size=64, steps=48)


@pytest.fixture(scope="module")
def progress():
    return []


@pytest.fixture(scope="module")
def inverted(embedded_model, chelsea, progress):
    return inversion.invert_features(embedded_model, chelsea, [SHALLOW, DEEP], QUICK, on_progress=progress.append)


def test_shallow_features_rebuild_the_image_more_faithfully_than_deep_ones(inverted):
    shallow, deep = inverted.correlation
    assert shallow > 0.5  # an early layer keeps most of the pixels (measured: 0.63 at this size and these steps)
    assert shallow > deep + 0.2


def test_feature_distance_falls_with_steps(inverted, progress):
    assert np.all(inverted.feature_distance < 0.5 * inverted.initial_distance)
    # The loop's objective per step (minus distance minus smoothness) under random jitter: compared over five steps.
    distances = np.array([-update.scores for update in progress])
    assert len(distances) == QUICK.steps
    assert np.all(distances[-5:].mean(axis=0) < 0.6 * distances[:5].mean(axis=0))


def test_reconstructions_are_the_asked_size_and_the_json_has_each_layer(inverted):
    assert inverted.images.shape == (2, 64, 64, 3) and inverted.images.dtype == np.uint8
    assert inverted.original.shape == (64, 64, 3) and inverted.steps_done == QUICK.steps and not inverted.stopped
    summary = json.loads(json.dumps(inverted.summary()))
    assert [row["layer"] for row in summary["layers"]] == [SHALLOW, DEEP]
    assert {"layer", "feature_distance", "correlation"} <= set(summary["layers"][0])
    assert summary["layers"][0]["correlation"] == pytest.approx(inverted.correlation[0])


def test_pixel_correlation_is_pearsons():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert inversion.pixel_correlation(image, image) == pytest.approx(1.0)
    assert inversion.pixel_correlation(255 - image, image) == pytest.approx(-1.0)
    assert inversion.pixel_correlation(np.zeros_like(image), image) == 0.0


def test_stop_keeps_what_it_has(embedded_model, chelsea):
    seen = []
    result = inversion.invert_features(embedded_model, chelsea, [SHALLOW], QUICK, on_progress=seen.append,
                                       should_stop=lambda: len(seen) >= 3)
    assert result.stopped and result.steps_done == 3 and result.images.shape == (1, 64, 64, 3)


@pytest.mark.parametrize("layers, settings, message", [
    (["no_such_layer"], QUICK, "no layer called 'no_such_layer'"),
    (["logits"], QUICK, "no feature map to invert"),
    ([SHALLOW] * 1, inversion.InversionSettings(size=5000), "Image size must be between"),
    ([SHALLOW], inversion.InversionSettings(steps=10**6), "Steps must be between"),
])
def test_bad_requests_are_one_sentence(embedded_model, chelsea, layers, settings, message):
    with pytest.raises(VizcoreError, match=message):
        inversion.invert_features(embedded_model, chelsea, layers, settings)


def test_too_many_layers_are_refused(embedded_model, chelsea):
    from vizcore.models.layers import feature_map_layers

    layers = [info.name for info in feature_map_layers(embedded_model)][: inversion.MAX_LAYERS + 1]
    with pytest.raises(VizcoreError, match=f"between 1 and {inversion.MAX_LAYERS} layers"):
        inversion.invert_features(embedded_model, chelsea, layers, QUICK)
