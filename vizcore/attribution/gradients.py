"""Gradient attributions: vanilla saliency, SmoothGrad, guided backpropagation.

Gradients are of the class score before softmax (``common.class_score``: the class's logit, or
for a contrastive map the class's logit minus the contrast class's), with respect to the input in
model space. ``values`` are S x S float32 (S = model input size), one number per pixel reduced
over the colour channels; ``raw`` keeps the signed S x S x 3 gradient. Guided backpropagation
runs on a private copy of the model whose ReLUs carry the guided gradient, so the shared model is
untouched.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
import tensorflow as tf

from vizcore.attribution.common import (
    NO_CONTRAST, AttributionMap, Target, batches, choose_target, class_score, image_batch, per_row_classes,
)
from vizcore.attribution.methods import METHODS
from vizcore.errors import VizcoreError
from vizcore.models.graph import SCORE
from vizcore.models.spec import LoadedModel

GRADIENT_CHUNK = 16  # images per gradient call: bounds memory for SmoothGrad and IG
BASELINES = METHODS["ig"].option("baseline").choices
BLUR_SIGMA = 0.1  # of the image side, for the blurred baseline
SMOOTHGRAD = METHODS["smoothgrad"].defaults()


def scores_and_input_gradients(model, batch, class_index, contrast_class=NO_CONTRAST):
    with tf.GradientTape() as tape:
        tape.watch(batch)
        scores = class_score(model(batch, training=False)[SCORE], class_index, contrast_class)
    return scores, tape.gradient(scores, batch)


def input_gradients(
    loaded: LoadedModel, batch: np.ndarray, class_index: int, guided: bool = False, contrast_class: int | None = None,
):
    """Class scores and their input gradients for a batch in model space, in bounded chunks.

    The score is the class's logit, minus the ``contrast_class`` logit when one is given (a
    checked index: see ``common.choose_contrast``).
    """
    view = loaded.derived.attribution(guided=guided)
    batch = np.asarray(batch, np.float32)
    scores, gradients = [], []
    for start, end in batches(len(batch), GRADIENT_CHUNK):
        rows = (batch[start:end], *per_row_classes(end - start, class_index, contrast_class))
        chunk_scores, chunk_gradients = loaded.batched(scores_and_input_gradients, rows=rows, view=view)
        scores.append(chunk_scores)
        gradients.append(chunk_gradients)
    return np.concatenate(scores), np.concatenate(gradients)


def _batch_and_target(loaded, pixels, class_index, contrast_class) -> tuple[np.ndarray, Target]:
    batch = image_batch(loaded, pixels)
    return batch.numpy(), choose_target(loaded, batch, class_index, contrast_class)


def _gradients(loaded, batch, target: Target, guided: bool = False) -> np.ndarray:
    return input_gradients(loaded, batch, target.class_index, guided, target.contrast_class)[1]


def saliency(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, contrast_class: int | None = None,
) -> AttributionMap:
    """Vanilla gradient (Simonyan et al. 2014): the largest absolute input gradient over the colour channels, per pixel.

    With ``contrast_class``, the gradient of the class's logit minus that class's logit: the
    pixels that tell the two apart.
    """
    batch, target = _batch_and_target(loaded, pixels, class_index, contrast_class)
    gradient = _gradients(loaded, batch, target)[0]
    return target.map("saliency", np.abs(gradient).max(axis=-1), raw=gradient)


def smoothgrad(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, samples: int = SMOOTHGRAD["samples"],
    noise: float = SMOOTHGRAD["noise"], blur: float = SMOOTHGRAD["blur"], seed: int = SMOOTHGRAD["seed"],
    contrast_class: int | None = None, progress: Callable[[int, int, np.ndarray], None] | None = None,
) -> AttributionMap:
    """SmoothGrad (Smilkov et al. 2017): the input gradient averaged over noisy copies of the image, then its magnitude.

    The noise is Gaussian with a standard deviation of ``noise`` (0..1) times the input's range,
    drawn from ``seed`` in antithetic pairs (e and -e: an odd ``samples`` adds one unpaired copy).
    ``values`` (S x S) is the absolute mean gradient summed over the colour channels (as the
    authors' code shows it), blurred by a Gaussian of ``blur`` px: the per-pixel magnitude is
    mostly sampling noise at any affordable count (two seeds at 128 samples and noise 0.05 agree at
    Pearson 0.89 on chelsea unblurred, 0.965 at 1 px), so the blur is what makes the map
    reproducible; 0 gives the paper's per-pixel map. A wider blur also keeps more of the image's
    own edges, which the map of a model with random weights shows as well (see ``sanity``). ``raw`` is the signed mean gradient (S x S x 3, unblurred).
    ``details`` holds samples, noise, blur and seed.

    ``progress(done, total, partial)`` is called after each chunk with the noisy copies done so
    far, ``samples`` and the S x S map from those copies alone (in the final map's units); an
    exception raised by ``progress`` ends the run and propagates.
    """
    METHODS["smoothgrad"].check({"samples": samples, "noise": noise, "blur": blur, "seed": seed})
    batch, target = _batch_and_target(loaded, pixels, class_index, contrast_class)
    spread = noise * float(batch.max() - batch.min())
    noises = antithetic_noise(np.random.default_rng(seed), samples, batch.shape[1:], spread)
    total = np.zeros(batch.shape[1:], np.float32)
    for start, end in batches(samples, GRADIENT_CHUNK):
        total += _gradients(loaded, batch + noises[start:end], target).sum(axis=0)
        if progress is not None:
            progress(end, samples, _smoothgrad_map(total / end, blur))
    mean_gradient = total / samples
    details = {"samples": samples, "noise": noise, "blur": blur, "seed": seed}
    return target.map("smoothgrad", _smoothgrad_map(mean_gradient, blur), raw=mean_gradient, details=details)


def _smoothgrad_map(mean_gradient: np.ndarray, blur: float) -> np.ndarray:
    magnitude = np.abs(mean_gradient).sum(axis=-1)
    return cv2.GaussianBlur(magnitude, (0, 0), blur) if blur > 0 else magnitude


def antithetic_noise(rng: np.random.Generator, count: int, shape: tuple, spread: float) -> np.ndarray:
    """``count`` Gaussian noise arrays of ``shape`` (standard deviation ``spread``), float32, as pairs e, -e side by side.

    Each pair's gradient changes cancel to first order; side by side, every even-sized chunk
    (and so every partial map) holds whole pairs.
    """
    half = rng.normal(0.0, spread, (count // 2, *shape)).astype(np.float32)
    paired = np.stack([half, -half], axis=1).reshape(-1, *shape)
    return np.concatenate([paired, rng.normal(0.0, spread, (count % 2, *shape)).astype(np.float32)])


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


def guided_backprop(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, contrast_class: int | None = None,
) -> AttributionMap:
    """Guided backpropagation (Springenberg et al. 2015): gradients through ReLUs that pass only positive signal, both ways.

    ``values`` is the largest positive guided gradient over the colour channels; ``raw`` the
    signed guided gradient (S x S x 3).
    """
    batch, target = _batch_and_target(loaded, pixels, class_index, contrast_class)
    gradient = _gradients(loaded, batch, target, guided=True)[0]
    return target.map("guided", np.maximum(gradient, 0.0).max(axis=-1), raw=gradient)
