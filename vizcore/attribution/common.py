"""What every attribution method shares: the private model copy, the target class, the result type."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import keras
import numpy as np
import tensorflow as tf

from vizcore.attribution.graph import SCORE, all_layers, flat_copy
from vizcore.errors import VizcoreError
from vizcore.models.folding import folded_copy
from vizcore.models.spec import LoadedModel
from vizcore.predictions import model_input, softmax

_models_lock = threading.Lock()


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


def attribution_model(loaded: LoadedModel, layers: tuple[str, ...] = (), guided: bool = False) -> keras.Model:
    """The flat private copy (see graph.py) with these layer outputs, built once and kept on the LoadedModel.

    Without ``guided``, the copy also has its batch norms folded into the convolutions before
    them (see models/folding.py): the same scores and layer outputs to float rounding, and on a
    CPU about twice as fast forward and backward. A graph that cannot be folded is used as is.
    """
    key = ("attribution", guided, *layers)
    with _models_lock:
        if key not in loaded.extractors:
            flat = flat_copy(loaded.keras_model, layers, guided=guided)
            if not guided:
                try:
                    flat = folded_copy(flat, keep=layers)
                except (ValueError, TypeError, KeyError):
                    pass
            loaded.extractors[key] = flat
        return loaded.extractors[key]


def spatial_layer_names(loaded: LoadedModel) -> list[str]:
    """Layers (nested models opened up) whose output is a feature map larger than 1 x 1, in graph order."""
    names = []
    for layer in all_layers(loaded.keras_model):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            if (shape[1] or 2) > 1 and (shape[2] or 2) > 1:
                names.append(layer.name)
    return names


def default_cam_layer(loaded: LoadedModel) -> str:
    """The model's Grad-CAM preset if it has one, else the last layer with spatial size above 1."""
    names = spatial_layer_names(loaded)
    if loaded.spec.presets.gradcam_layer in names:
        return loaded.spec.presets.gradcam_layer
    if not names:
        raise VizcoreError("The model has no convolutional layer with a spatial map to explain.")
    return names[-1]


def check_cam_layer(loaded: LoadedModel, layer: str) -> str:
    if layer not in spatial_layer_names(loaded):
        raise VizcoreError(f"The model has no convolutional layer called {layer!r} with a spatial map.")
    return layer


def image_batch(loaded: LoadedModel, pixels: np.ndarray) -> tf.Tensor:
    return tf.constant(model_input(loaded, pixels))


@tf.function(reduce_retracing=True)
def _scores(model, batch):
    return model(batch, training=False)[SCORE]


SCORE_CHUNK = 32  # images per forward pass when scoring many variants of one image


def class_scores(loaded: LoadedModel, batch) -> np.ndarray:
    """Pre-softmax class scores for a batch in model space: N x classes, in bounded chunks."""
    model = attribution_model(loaded)
    batch = np.asarray(batch, np.float32)
    scores = []
    for start, end in batches(len(batch), SCORE_CHUNK):
        with loaded.lock:
            scores.append(np.asarray(_scores(model, tf.constant(batch[start:end]))))
    return np.concatenate(scores)


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
