"""What an optimised image is pulled towards, measured on real images: layer features and Gram matrices.

Style transfer and texture synthesis match the Gram matrices (channel co-activations) of style or
texture images; feature inversion matches one image's features. The targets are computed here
once per run and travel into the render loop as tensors (``Context.targets``); the distances
below are the loop's own (``GramDistance``, ``FeatureDistance``), in numpy, for reporting on a
finished image.
"""

from __future__ import annotations

import cv2
import numpy as np

from vizcore.models.spec import LoadedModel
from vizcore.optimize.loop import layer_outputs
from vizcore.optimize.objectives import gram_matrices

_EPSILON = 1e-8  # as in the objectives: a target of all zeros still gives a finite distance


def resized(pixels: np.ndarray, longer_side: int) -> np.ndarray:
    """``pixels`` (uint8) scaled so the longer side is ``longer_side`` px (aspect kept), float32 0..1."""
    height, width = pixels.shape[:2]
    scale = longer_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(pixels, size, interpolation=interpolation).astype(np.float32) / 255.0, 0.0, 1.0)


def blended_grams(
    loaded: LoadedModel, styles: list[np.ndarray], weights: list[float], layers: tuple[str, ...], size: int
) -> dict[str, np.ndarray]:
    """Per layer, the weighted mean of the images' Gram matrices (C x C), each image at ``size`` px longer side."""
    total = float(sum(weights))
    blended = {}
    for style, weight in zip(styles, weights):
        outputs = layer_outputs(loaded, layers, resized(style, size)[None])
        for layer in layers:
            gram = np.asarray(gram_matrices(outputs[layer]))[0] * (weight / total)
            blended[layer] = blended.get(layer, 0.0) + gram
    return blended


def gram_distance(features: np.ndarray, target: np.ndarray) -> float:
    """``GramDistance`` of one image's H x W x C ``features`` from a C x C target: 1.0 is as far as an all-zero Gram."""
    gram = np.asarray(gram_matrices(features[None]))[0]
    return float(np.mean((gram - target) ** 2) / (np.mean(target**2) + _EPSILON))


def feature_distance(features: np.ndarray, target: np.ndarray) -> float:
    """``FeatureDistance`` of H x W x C ``features`` from a target of that shape: 1.0 is as far as all zeros."""
    return float(np.mean((features - target) ** 2) / (np.mean(target**2) + _EPSILON))
