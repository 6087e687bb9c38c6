import keras
import numpy as np
import pytest
from scipy.stats import spearmanr

from vizcore import attribution
from vizcore.attribution import cam
from vizcore.errors import VizcoreError
from vizcore.models.spec import LoadedModel

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


def test_randomised_top_layers_change_the_map(embedded_model, chelsea):
    """Adebayo et al.'s sanity check: a map that survives losing the learned weights explains nothing."""
    original = attribution.gradcam(embedded_model, chelsea, 285)
    scrambled_model = keras.models.clone_model(embedded_model.keras_model)
    scrambled_model.set_weights(embedded_model.keras_model.get_weights())
    rng = np.random.default_rng(0)
    for name in ("logits", "head_conv"):
        layer = scrambled_model.get_layer(name)
        layer.set_weights([rng.normal(0, np.std(w) + 1e-3, w.shape).astype(np.float32) for w in layer.get_weights()])
    scrambled = attribution.gradcam(LoadedModel(embedded_model.spec, scrambled_model), chelsea, 285)
    correlation = spearmanr(original.values.ravel(), scrambled.values.ravel())[0]
    assert correlation < 0.5, correlation


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
