import keras
import numpy as np
import pytest
from scipy.stats import spearmanr

from vizcore import attribution
from vizcore.attribution import cam
from vizcore.errors import VizcoreError

from .conftest import face_contrast, hottest_region, in_face


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "scorecam"])
def test_the_cats_face_is_the_hottest_region(embedded_model, chelsea, method):
    result = attribution.explain(embedded_model, chelsea, method)
    assert result.label in ("Egyptian cat", "tiger cat", "tabby") and result.layer == "head_relu"
    assert result.values.shape == (224, 224) and result.values.min() >= 0
    assert in_face(hottest_region(result.values))
    assert face_contrast(result.values) > 1.5


def test_two_classes_give_two_maps(embedded_model, chelsea):
    tiger, tabby = (attribution.gradcam(embedded_model, chelsea, index) for index in (282, 281))
    assert (tiger.label, tabby.label) == ("tiger cat", "tabby")
    assert spearmanr(tiger.values.ravel(), tabby.values.ravel())[0] < 0.99


def test_the_cached_model_is_left_exactly_as_it_was(embedded_model, chelsea):
    from vizcore.predictions import class_probabilities

    weights = [w.copy() for w in embedded_model.keras_model.get_weights()]
    before = class_probabilities(embedded_model, chelsea)
    attribution.guided_gradcam(embedded_model, chelsea)
    attribution.guided_backprop(embedded_model, chelsea)
    attribution.gradcam_plus_plus(embedded_model, chelsea)
    for original, now in zip(weights, embedded_model.keras_model.get_weights()):
        np.testing.assert_array_equal(original, now)
    np.testing.assert_array_equal(class_probabilities(embedded_model, chelsea), before)
    assert embedded_model.keras_model.get_layer("stem_relu").__class__ is keras.layers.ReLU


def test_score_cam_caps_its_channels(embedded_model, chelsea):
    result = attribution.scorecam(embedded_model, chelsea, max_channels=16)
    assert result.details == {"channels_used": 16, "channels_in_layer": 1280}


def test_nested_model_every_cam_method_works(nested_loaded):
    pixels = np.random.default_rng(0).integers(0, 256, (60, 70, 3), dtype=np.uint8)
    assert attribution.default_cam_layer(nested_loaded) == "base_conv2"  # preset missing: last spatial layer
    for method in attribution.LAYER_METHODS:
        result = attribution.explain(nested_loaded, pixels, method, class_index=1)
        assert result.values.shape == (48, 48) and np.isfinite(result.values).all() and result.layer == "base_conv2"


def test_bad_class_or_layer_is_one_sentence(embedded_model, chelsea):
    with pytest.raises(VizcoreError, match="Class index must be between 0 and 999, not 1000."):
        attribution.gradcam(embedded_model, chelsea, 1000)
    with pytest.raises(VizcoreError, match="Layer 'logits' has no spatial map for a CAM"):
        attribution.gradcam(embedded_model, chelsea, layer="logits")
    with pytest.raises(VizcoreError, match=r"no layer called 'head_rel'; closest: head_relu.*vizcore layers"):
        attribution.gradcam(embedded_model, chelsea, layer="head_rel")
    with pytest.raises(VizcoreError, match="Unknown method"):
        attribution.explain(embedded_model, chelsea, "lime")
    with pytest.raises(VizcoreError, match="Score-CAM channels must be at least 1, not 0"):
        cam.scorecam(embedded_model, chelsea, max_channels=0)


def pearson(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])


def test_what_tells_egyptian_cat_from_tiger_cat_is_not_the_egyptian_cat_map(embedded_model, chelsea):
    """Item 2: the two classes' Grad-CAM maps are nearly the same picture; the contrastive map is not."""
    egyptian, tiger = (attribution.gradcam(embedded_model, chelsea, index) for index in (285, 282))
    assert pearson(egyptian.values, tiger.values) > 0.95
    contrast = attribution.explain(embedded_model, chelsea, "gradcam", 285, contrast_class=282)
    assert (contrast.label, contrast.contrast_label, contrast.layer) == ("Egyptian cat", "tiger cat", "head_relu")
    assert pearson(contrast.values, egyptian.values) < 0.8
    assert contrast.values.min() >= 0 and contrast.values.max() > 0


def test_a_contrastive_grad_cam_weighs_channels_by_the_difference_of_the_two_classes(embedded_model, chelsea):
    """Grad-CAM is linear in the score's gradient: the contrast's channel weights are the two classes' difference."""
    layer = "stage5_block3_add"  # 14 x 14: finer than head_relu, whose class gradient is the same at every position
    features, first = cam._gradients(embedded_model, layer, cam.image_batch(embedded_model, chelsea),
                                      cam.Target(285, "Egyptian cat", 0.0))
    _, second = cam._gradients(embedded_model, layer, cam.image_batch(embedded_model, chelsea), cam.Target(282, "tiger cat", 0.0))
    _, both = cam._gradients(embedded_model, layer, cam.image_batch(embedded_model, chelsea),
                             cam.Target(285, "Egyptian cat", 0.0, 282, "tiger cat"))
    np.testing.assert_allclose(both, first - second, atol=1e-4 * np.abs(first).max())
    expected = np.maximum((features * (first - second).mean(axis=(0, 1))).sum(axis=-1), 0.0)
    result = attribution.gradcam(embedded_model, chelsea, 285, layer, contrast_class=282)
    np.testing.assert_allclose(result.values, cam.upsample(expected, 224), rtol=1e-4, atol=1e-5 * expected.max())


def test_score_cam_and_guided_grad_cam_take_a_contrast_class(embedded_model, chelsea):
    plain = attribution.scorecam(embedded_model, chelsea, 285, max_channels=64)
    contrast = attribution.scorecam(embedded_model, chelsea, 285, max_channels=64, contrast_class=282)
    assert contrast.contrast_label == "tiger cat" and pearson(contrast.values, plain.values) < 0.9
    guided = attribution.guided_gradcam(embedded_model, chelsea, 285, contrast_class=282)
    assert guided.contrast_class == 282 and guided.raw.shape == (224, 224, 3)
    assert pearson(guided.values, attribution.guided_gradcam(embedded_model, chelsea, 285).values) < 0.8


def test_one_cam_trace_serves_every_class_and_contrast(embedded_model, chelsea):
    attribution.gradcam(embedded_model, chelsea, 285)
    before = embedded_model.derived.tracing_counts()["features_and_gradients"]
    for class_index, contrast_class in ((285, 282), (281, 285), (282, None)):
        attribution.gradcam_plus_plus(embedded_model, chelsea, class_index, contrast_class=contrast_class)
    assert embedded_model.derived.tracing_counts()["features_and_gradients"] == before
