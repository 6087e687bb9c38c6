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
    # The signed S x S x 3 input-gradient map behind ``values`` (gradient maps only): the NPY download.
    raw: np.ndarray | None = None
    contrast_class: int | None = None  # the class the evidence is against (a contrastive map), else None
    contrast_label: str | None = None

    def saved(self) -> np.ndarray:
        """What a download holds, float32: the signed S x S x 3 ``raw`` map when there is one, else ``values``."""
        return (self.raw if self.raw is not None else self.values).astype(np.float32)

    def normalised(self) -> np.ndarray:
        """``values`` scaled to 0..1 (negative evidence clipped to 0) for display."""
        positive = np.maximum(self.values, 0.0)
        top = positive.max()
        return positive / top if top > 0 else positive


NO_CONTRAST = -1  # the contrast class a traced score function gets when a map is not contrastive


def class_score(logits, class_index, contrast_class):
    """The class's logit, minus the ``contrast_class`` logit when that is not NO_CONTRAST: N scores.

    Evidence for one class against another (a contrastive map) is the gradient of this difference.
    Both indices are int32 tensors in traced functions, so one trace serves every pair: scalars
    (one class for every row) or one index per row (a batch of many requests: vizcore/models/batching.py).
    """
    rows = tf.shape(logits)[:1]
    score = tf.gather(logits, tf.broadcast_to(class_index, rows), axis=1, batch_dims=1)
    other = tf.gather(logits, tf.broadcast_to(tf.maximum(contrast_class, 0), rows), axis=1, batch_dims=1)
    return score - tf.where(contrast_class >= 0, other, tf.zeros_like(other))


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
        loaded.batched(scores, rows=(batch[start:end],), view=view)
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


def choose_contrast(loaded: LoadedModel, contrast_class: int | None, class_index: int) -> tuple[int | None, str | None]:
    """The contrast class (None: not a contrastive map), checked against the model's classes, and its label."""
    if contrast_class is None:
        return None, None
    count = int(loaded.derived.attribution().model.output[SCORE].shape[-1])
    if not 0 <= int(contrast_class) < count:
        raise VizcoreError(f"Contrast class index must be between 0 and {count - 1}, not {contrast_class}.")
    if int(contrast_class) == class_index:
        raise VizcoreError("The contrast class must differ from the class explained.")
    names = loaded.class_names
    return int(contrast_class), names[contrast_class] if contrast_class < len(names) else f"class {contrast_class}"


def per_row_classes(rows: int, class_index: int, contrast_class: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The class and contrast class (NO_CONTRAST for None) once per row, int32: ``class_score``'s batched indices."""
    contrast = NO_CONTRAST if contrast_class is None else int(contrast_class)
    return np.full(rows, int(class_index), np.int32), np.full(rows, contrast, np.int32)


@dataclass(frozen=True)
class Target:
    """What a map explains: the class (its label and probability) and, for a contrastive map, the class it is against."""

    class_index: int
    label: str
    probability: float
    contrast_class: int | None = None
    contrast_label: str | None = None

    def map(self, method: str, values: np.ndarray, **fields) -> AttributionMap:
        """The AttributionMap of ``method`` for this target (``fields``: layer, details, raw)."""
        return AttributionMap(method, self.class_index, self.label, self.probability, values,
                              contrast_class=self.contrast_class, contrast_label=self.contrast_label, **fields)


def choose_target(loaded: LoadedModel, batch, class_index: int | None, contrast_class: int | None = None) -> Target:
    """``choose_class`` and ``choose_contrast`` together: one Target."""
    class_index, label, probability = choose_class(loaded, batch, class_index)
    return Target(class_index, label, probability, *choose_contrast(loaded, contrast_class, class_index))


def upsample(values: np.ndarray, size: int) -> np.ndarray:
    """A small H x W map resized to size x size (bilinear), float32."""
    return cv2.resize(values.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


def batches(count: int, chunk: int):
    for start in range(0, count, chunk):
        yield start, min(start + chunk, count)
