"""The forward pass: pixels into model space, the model (or a view of it) on one image, softmax."""

from __future__ import annotations

import numpy as np

from vizcore.images import fit_to_model
from vizcore.models.derived import View, forward
from vizcore.models.spec import LoadedModel


def model_input(loaded: LoadedModel, pixels: np.ndarray) -> np.ndarray:
    """A batch of one in model space (float32, 1 x S x S x 3) from RGB uint8 pixels of any size."""
    fitted = fit_to_model(pixels, loaded.spec.input_size).astype(np.float32)
    return np.asarray(loaded.spec.preprocessing.to_model(fitted), dtype=np.float32)[None]


def run_on_image(loaded: LoadedModel, pixels: np.ndarray, view: View | None = None) -> np.ndarray:
    """``view`` (default: the loaded model) on one image: its first output for the image, float32."""
    output = loaded.batched(forward, rows=(model_input(loaded, pixels),), view=view)
    return np.asarray(output, dtype=np.float32)[0]


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
