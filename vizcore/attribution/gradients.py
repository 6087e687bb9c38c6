"""Gradient attributions: vanilla saliency, SmoothGrad, Integrated Gradients, guided backpropagation.

Gradients are of the class score before softmax, with respect to the input in model space; maps
are S x S float32 (S = model input size). Guided backpropagation runs on a private copy of the
model whose ReLUs carry the guided gradient, so the shared model is untouched.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from vizcore.attribution.common import AttributionMap, batches, choose_class, image_batch
from vizcore.attribution.methods import METHODS
from vizcore.errors import VizcoreError
from vizcore.models.graph import SCORE
from vizcore.models.spec import LoadedModel

GRADIENT_CHUNK = 16  # images per gradient call: bounds memory for SmoothGrad and IG
BASELINES = METHODS["ig"].option("baseline").choices
BLUR_SIGMA = 0.1  # of the image side, for the blurred baseline


def scores_and_input_gradients(model, batch, class_index):
    with tf.GradientTape() as tape:
        tape.watch(batch)
        scores = model(batch, training=False)[SCORE][:, class_index]
    return scores, tape.gradient(scores, batch)


def input_gradients(loaded: LoadedModel, batch: np.ndarray, class_index: int, guided: bool = False):
    """Class scores and their input gradients for a batch in model space, in bounded chunks."""
    view = loaded.derived.attribution(guided=guided)
    scores, gradients = [], []
    for start, end in batches(len(batch), GRADIENT_CHUNK):
        chunk_scores, chunk_gradients = loaded.call(
            scores_and_input_gradients, tf.constant(batch[start:end], tf.float32), tf.constant(class_index), view=view
        )
        scores.append(np.asarray(chunk_scores))
        gradients.append(np.asarray(chunk_gradients))
    return np.concatenate(scores), np.concatenate(gradients)


def _prepared(loaded, pixels, class_index):
    batch = image_batch(loaded, pixels)
    class_index, label, probability = choose_class(loaded, batch, class_index)
    return batch.numpy(), class_index, label, probability


def saliency(loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None) -> AttributionMap:
    """Vanilla gradient: the largest absolute input gradient over the colour channels, per pixel."""
    batch, class_index, label, probability = _prepared(loaded, pixels, class_index)
    _, gradients = input_gradients(loaded, batch, class_index)
    return AttributionMap("saliency", class_index, label, probability, np.abs(gradients[0]).max(axis=-1))


def smoothgrad(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, samples: int = 32,
    noise: float = 0.15, seed: int = 0,
) -> AttributionMap:
    """SmoothGrad: absolute gradients averaged over ``samples`` noisy copies (noise as a share of the input range)."""
    METHODS["smoothgrad"].check({"samples": samples, "noise": noise})
    batch, class_index, label, probability = _prepared(loaded, pixels, class_index)
    spread = noise * float(batch.max() - batch.min())
    rng = np.random.default_rng(seed)
    total = np.zeros(batch.shape[1:3], np.float32)
    for start, end in batches(samples, GRADIENT_CHUNK):
        noisy = batch + rng.normal(0.0, spread, (end - start, *batch.shape[1:])).astype(np.float32)
        _, gradients = input_gradients(loaded, noisy, class_index)
        total += np.abs(gradients).max(axis=-1).sum(axis=0)
    details = {"samples": samples, "noise": noise}
    return AttributionMap("smoothgrad", class_index, label, probability, total / samples, details=details)


def baseline_image(loaded: LoadedModel, image: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """A reference input in model space: ``black`` pixels, a heavily ``blurred`` image, or uniform ``noise``."""
    to_model, to_pixels = loaded.spec.preprocessing.to_model, loaded.spec.preprocessing.to_pixels
    if kind == "black":
        return np.asarray(to_model(np.zeros_like(image)), np.float32)
    if kind == "blurred":
        pixels = np.asarray(to_pixels(image), np.float32)
        sigma = BLUR_SIGMA * image.shape[0]
        return np.asarray(to_model(cv2.GaussianBlur(pixels, (0, 0), sigma)), np.float32)
    if kind == "noise":
        noise = np.random.default_rng(seed).uniform(0, 255, image.shape).astype(np.float32)
        return np.asarray(to_model(noise), np.float32)
    raise VizcoreError(f"Unknown baseline {kind!r}: choose one of {', '.join(BASELINES)}.")


def integrated_gradients(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, steps: int = 64,
    baseline: str = "black", seed: int = 0,
) -> AttributionMap:
    """Integrated Gradients (Sundararajan et al. 2017), trapezoid rule over ``steps`` intervals.

    ``values`` is the signed attribution summed over colour channels. ``details`` holds the
    completeness check: the attributions should sum to f(image) - f(baseline).
    """
    METHODS["ig"].check({"steps": steps, "baseline": baseline})
    batch, class_index, label, probability = _prepared(loaded, pixels, class_index)
    image = batch[0]
    reference = baseline_image(loaded, image, baseline, seed)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    path = reference[None] + alphas[:, None, None, None] * (image - reference)[None]
    scores, gradients = input_gradients(loaded, path, class_index)
    weights = np.full(steps + 1, 1.0 / steps, np.float32)
    weights[[0, -1]] *= 0.5
    average_gradient = np.tensordot(weights, gradients, axes=1)
    attributions = (image - reference) * average_gradient
    total, expected = float(attributions.sum()), float(scores[-1] - scores[0])
    details = {
        "steps": steps,
        "baseline": baseline,
        "attribution_sum": total,
        "score_difference": expected,
        "completeness_error": abs(total - expected) / max(abs(expected), 1e-6),
    }
    return AttributionMap("ig", class_index, label, probability, attributions.sum(axis=-1), details=details)


def guided_backprop(loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None) -> AttributionMap:
    """Guided backpropagation: gradients through ReLUs that pass only positive signal, both ways."""
    batch, class_index, label, probability = _prepared(loaded, pixels, class_index)
    _, gradients = input_gradients(loaded, batch, class_index, guided=True)
    return AttributionMap("guided", class_index, label, probability, np.maximum(gradients[0], 0.0).max(axis=-1))
