"""What every attribution method shares: the class scores, the target class, the result type."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.models.graph import SCORE
from vizcore.models.inference import model_input, softmax
from vizcore.models.spec import LoadedModel


@dataclass(frozen=True)
class AttributionMap:
    """One explanation: ``values`` is S x S float32 at the model input's resolution (S = input size)."""

    method: str
    class_index: int
    label: str
    probability: float  # the model's probability for the class on the unchanged image
    values: np.ndarray
    layer: str | None = None
    details: dict = field(default_factory=dict)  # method-specific numbers, e.g. IG's completeness error

    def normalised(self) -> np.ndarray:
        """``values`` scaled to 0..1 (negative evidence clipped to 0) for display."""
        positive = np.maximum(self.values, 0.0)
        top = positive.max()
        return positive / top if top > 0 else positive


def image_batch(loaded: LoadedModel, pixels: np.ndarray) -> tf.Tensor:
    return tf.constant(model_input(loaded, pixels))


def scores(model, batch):
    """The class scores before softmax, for ``LoadedModel.call`` on an attribution view."""
    return model(batch, training=False)[SCORE]


SCORE_CHUNK = 32  # images per forward pass when scoring many variants of one image


def class_scores(loaded: LoadedModel, batch) -> np.ndarray:
    """Pre-softmax class scores for a batch in model space: N x classes, in bounded chunks."""
    view = loaded.derived.attribution()
    batch = np.asarray(batch, np.float32)
    chunks = [
        np.asarray(loaded.call(scores, tf.constant(batch[start:end]), view=view))
        for start, end in batches(len(batch), SCORE_CHUNK)
    ]
    return np.concatenate(chunks)


def choose_class(loaded: LoadedModel, batch, class_index: int | None) -> tuple[int, str, float]:
    """The class to explain (top-1 when ``class_index`` is None), its label and probability."""
    probabilities = softmax(class_scores(loaded, batch))[0]
    if class_index is None:
        class_index = int(np.argmax(probabilities))
    if not 0 <= int(class_index) < probabilities.shape[0]:
        raise VizcoreError(f"Class index must be between 0 and {probabilities.shape[0] - 1}, not {class_index}.")
    names = loaded.class_names
    label = names[class_index] if class_index < len(names) else f"class {class_index}"
    return int(class_index), label, float(probabilities[class_index])


def upsample(values: np.ndarray, size: int) -> np.ndarray:
    """A small H x W map resized to size x size (bilinear), float32."""
    return cv2.resize(values.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


def batches(count: int, chunk: int):
    for start in range(0, count, chunk):
        yield start, min(start + chunk, count)
