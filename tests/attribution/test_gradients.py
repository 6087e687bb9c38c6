import numpy as np
import pytest

from vizcore import attribution
from vizcore.attribution import gradients
from vizcore.errors import VizcoreError


@pytest.mark.parametrize("baseline", ["black", "blurred"])
def test_integrated_gradients_are_complete_within_5_percent_at_64_steps(embedded_model, chelsea, baseline):
    result = attribution.integrated_gradients(embedded_model, chelsea, steps=64, baseline=baseline)
    details = result.details
    assert abs(details["score_difference"]) > 1.0  # a real difference to explain
    assert details["completeness_error"] < 0.05, details
    assert result.values.sum() == pytest.approx(details["attribution_sum"], rel=1e-4)


def test_few_ig_steps_are_less_complete_than_many(embedded_model, chelsea):
    coarse = attribution.integrated_gradients(embedded_model, chelsea, steps=2).details["completeness_error"]
    fine = attribution.integrated_gradients(embedded_model, chelsea, steps=64).details["completeness_error"]
    assert fine < coarse


def test_smoothgrad_is_smoother_than_plain_saliency(embedded_model, chelsea):
    plain = attribution.saliency(embedded_model, chelsea).values
    smooth = attribution.smoothgrad(embedded_model, chelsea, samples=16).values

    def roughness(values):
        values = values / values.mean()
        return np.abs(np.diff(values, axis=0)).mean() + np.abs(np.diff(values, axis=1)).mean()

    assert roughness(smooth) < 0.8 * roughness(plain)


def test_guided_backprop_differs_from_plain_gradients(embedded_model, chelsea):
    guided = attribution.guided_backprop(embedded_model, chelsea).values
    plain = attribution.saliency(embedded_model, chelsea).values
    assert guided.shape == plain.shape == (224, 224) and guided.min() >= 0
    assert np.corrcoef(guided.ravel(), plain.ravel())[0, 1] < 0.95


def test_gradient_methods_on_a_nested_model(nested_loaded):
    pixels = np.random.default_rng(3).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    for method in ("saliency", "smoothgrad", "ig", "guided"):
        result = attribution.explain(nested_loaded, pixels, method, class_index=2)
        assert result.values.shape == (48, 48) and np.isfinite(result.values).all()


def test_bad_options_say_why(embedded_model, chelsea):
    with pytest.raises(VizcoreError, match="Unknown baseline"):
        attribution.integrated_gradients(embedded_model, chelsea, baseline="white")
    with pytest.raises(VizcoreError, match="SmoothGrad samples must be 1 to 512, not 0"):
        attribution.smoothgrad(embedded_model, chelsea, samples=0)
    with pytest.raises(VizcoreError, match="Integrated Gradients steps must be 2 to 512, not 1"):
        gradients.integrated_gradients(embedded_model, chelsea, steps=1)
