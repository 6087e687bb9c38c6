"""The cascading randomisation sanity check (Adebayo et al. 2018) on the embedded model and chelsea."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from vizcore import attribution
from vizcore.attribution import sanity
from vizcore.attribution.methods import METHODS
from vizcore.errors import VizcoreError
from vizcore.models.derived import MAX_RANDOMISED
from vizcore.models.layers import block_of

# Small options keep this file quick; the outcomes are the same at the defaults (see the report's table).
SMALL = {
    "occlusion": {"patch": 56, "stride": 56},
    "smoothgrad": {"samples": 32},
    "ig": {"steps": 16, "tolerance": 0.0},
    "scorecam": {"max_channels": 32},
}
# Every method's outcome at the default four depths (logits; + head; + stage7_block1; + stage6_block4).
# Grad-CAM++ at head_relu and Score-CAM barely change (Spearman about 0.9): their maps there are
# mostly the features' own saliency, whatever the class weights. SmoothGrad passes at its 1 px
# blur (0.41); a wider blur keeps more of the image's coarse layout in both maps (below). Guided backpropagation,
# which the paper found insensitive, does change on this network (0.2-0.3): its guided gradient
# is gated by the class's weights in the logits layer (tiger cat against goldfish: Spearman -0.1).
EXPECTED = {
    "occlusion": True,
    "saliency": True,
    "smoothgrad": True,
    "ig": True,
    "guided": True,
    "gradcam": True,
    "gradcam++": False,
    "scorecam": False,
    "guided-gradcam": True,
}
LAYERS = ["logits", "head_bn", "head_conv"]


def test_every_method_in_the_table_has_an_expected_outcome():
    assert set(EXPECTED) == set(METHODS)


@pytest.mark.parametrize("method", list(EXPECTED))
def test_randomising_the_top_layers(embedded_model, chelsea, method):
    check = attribution.sanity_check(embedded_model, chelsea, method, **SMALL.get(method, {}))
    correlations = [row["spearman"] for row in check.correlations]
    assert check.method == method and len(correlations) == 4
    assert check.correlations[0]["randomised"] == ["logits"] and check.correlations[1]["randomised"] == LAYERS
    assert all(-1 <= r <= 1 for r in correlations)
    assert check.passes is EXPECTED[method], correlations
    assert check.passes is (correlations[-1] < sanity.PASS_THRESHOLD)


def test_smoothgrads_blur_buys_reproducibility_with_sanity(embedded_model, chelsea):
    """The blur that makes two seeds agree (test_gradients.py) also keeps the image's own layout in the randomised maps."""
    deepest = {
        blur: attribution.sanity_check(embedded_model, chelsea, "smoothgrad", samples=8, blur=blur).correlations[-1]["spearman"]
        for blur in (0.0, 1.0, 4.0)
    }
    assert deepest[0.0] < deepest[1.0] < deepest[4.0], deepest
    assert deepest[0.0] < sanity.PASS_THRESHOLD <= deepest[4.0], deepest


def test_the_cascade_goes_from_the_logits_down_one_block_at_a_time(embedded_model):
    cascade = sanity.randomisation_depths(embedded_model)
    assert len(cascade) == sanity.DEFAULT_DEPTHS
    assert cascade[0] == ("logits",) and list(cascade[1]) == LAYERS
    for shallower, deeper in zip(cascade, cascade[1:]):
        assert deeper[: len(shallower)] == shallower and len(deeper) > len(shallower)
    assert {block_of(name) for name in cascade[3][3:]} == {"stage7_block1", "stage6_block4"}
    assert len(sanity.randomisation_depths(embedded_model, 2)) == 2


def test_a_randomised_copy_changes_only_its_layers_and_is_reused(embedded_model):
    copy = sanity.randomised_model(embedded_model, tuple(LAYERS))
    assert sanity.randomised_model(embedded_model, tuple(LAYERS)) is copy  # kept, not rebuilt
    assert copy.spec is embedded_model.spec and copy.keras_model is not embedded_model.keras_model
    for name in ("logits", "head_conv", "stage7_block1_project_conv", "stem_conv"):
        original = embedded_model.keras_model.get_layer(name).get_weights()[0]
        randomised = copy.keras_model.get_layer(name).get_weights()[0]
        assert np.array_equal(original, randomised) is (name not in LAYERS), name
    # Each layer's own initializer, seeded: Glorot uniform for the logits, reproducible.
    kernel = copy.keras_model.get_layer("logits").get_weights()[0]
    limit = np.sqrt(6 / sum(kernel.shape))
    assert np.abs(kernel).max() <= limit and kernel.std() > limit / 3
    again = sanity._randomised(embedded_model, tuple(LAYERS), sanity.SEED)
    np.testing.assert_array_equal(again.keras_model.get_layer("logits").get_weights()[0], kernel)


def test_the_shared_model_is_left_exactly_as_it_was(embedded_model, chelsea):
    from vizcore.predictions import class_probabilities

    weights = [w.copy() for w in embedded_model.keras_model.get_weights()]
    before = class_probabilities(embedded_model, chelsea)
    attribution.sanity_check(embedded_model, chelsea, "gradcam")
    for original, now in zip(weights, embedded_model.keras_model.get_weights()):
        np.testing.assert_array_equal(original, now)
    np.testing.assert_array_equal(class_probabilities(embedded_model, chelsea), before)


def test_repeated_checks_keep_a_bounded_set_of_copies(embedded_model, chelsea):
    for _ in range(3):
        attribution.sanity_check(embedded_model, chelsea, "saliency")
    kept = dict(embedded_model.derived._randomised)
    assert len(kept) == MAX_RANDOMISED
    attribution.sanity_check(embedded_model, chelsea, "gradcam", class_index=281)
    assert all(embedded_model.derived._randomised[key] is copy for key, copy in kept.items())  # reused by any method


def test_spearman_agrees_with_scipy_including_ties():
    rng = np.random.default_rng(0)
    first = np.maximum(rng.normal(size=(20, 20)), 0)  # ReLU'd, like a CAM: many tied zeros
    second = np.maximum(first + rng.normal(scale=0.5, size=first.shape), 0)
    assert sanity.spearman(first, second) == pytest.approx(spearmanr(first.ravel(), second.ravel())[0], abs=1e-9)
    assert sanity.spearman(first, -first) == pytest.approx(-1.0)
    assert sanity.spearman(first, np.zeros_like(first)) == 0.0


def test_the_original_map_can_be_passed_in(embedded_model, chelsea):
    original = attribution.gradcam(embedded_model, chelsea, 281)
    passed = attribution.sanity_check(embedded_model, chelsea, "gradcam", original=original)
    computed = attribution.sanity_check(embedded_model, chelsea, "gradcam", class_index=281)
    assert passed.class_index == 281 and passed.correlations == computed.correlations


def test_bad_requests_are_one_sentence(embedded_model, chelsea):
    with pytest.raises(VizcoreError, match=f"Sanity check depths must be 1 to {MAX_RANDOMISED}, not 9."):
        attribution.sanity_check(embedded_model, chelsea, "saliency", depths=9)
    with pytest.raises(VizcoreError, match="Unknown method 'lime'"):
        attribution.sanity_check(embedded_model, chelsea, "lime")
    with pytest.raises(VizcoreError, match="Grad-CAM has no option 'samples'"):
        attribution.sanity_check(embedded_model, chelsea, "gradcam", samples=4)


def test_a_nested_model_gets_as_many_depths_as_it_has_blocks(nested_loaded):
    pixels = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    check = attribution.sanity_check(nested_loaded, pixels, "gradcam", class_index=1)
    assert [row["randomised"] for row in check.correlations] == [["head"], ["head", "base_conv2", "base_bn", "base_conv1"]]


def test_grad_cam_plus_plus_at_the_pooled_layer_is_nearly_class_agnostic(embedded_model, chelsea):
    """At head_relu the class gradient is w / 49 everywhere, so Grad-CAM++ is sum relu(w) * A."""
    def between_classes(method, layer):
        tiger, goldfish = (attribution.explain(embedded_model, chelsea, method, index, layer) for index in (282, 1))
        return sanity.spearman(tiger.values, goldfish.values)

    assert between_classes("gradcam++", "head_relu") > 0.85
    assert between_classes("gradcam", "head_relu") < 0.7
    caveat = attribution.cam_caveat(embedded_model, "gradcam++", "head_relu")
    assert "head_relu" in caveat and "stage7_block1_project_bn" in caveat
    assert between_classes("gradcam++", "stage7_block1_project_bn") < 0.7  # the layer it suggests
    assert attribution.cam_caveat(embedded_model, "gradcam++", "stage7_block1_project_bn") is None
    assert attribution.cam_caveat(embedded_model, "gradcam", "head_relu") is None
    assert attribution.cam_caveat(embedded_model, "gradcam++", "head_relu", contrast_class=1) is None
