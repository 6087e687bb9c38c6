"""What the index pass computes for a batch of images: one callable class, for the local engine and for Ray.

The shape is Ray Data's batch inference: ``IndexRecipe(...)`` loads the model once, and
``recipe(batch)`` takes a dict of numpy arrays (``"image"``: N x S x S x 3 uint8 RGB, already
fitted to the model's input by ``fit_to_model``; any other column passes through) and returns
a dict of numpy arrays, one row per image:

- ``top_classes`` (N x 5 int32) and ``top_probabilities`` (N x 5 float32), most probable first;
- ``embedding`` (N x D float16): the input of the model's last Dense layer (for the embedded
  model the global-average-pooled features before ``logits``, D = 1280);
- per chosen layer L, ``L/max`` (N x C float32), each channel's largest activation, and
  ``L/y``, ``L/x`` (N x C int32), where it is, in the layer's feature-map cells.

Batches run through a traced function owned by the model's derived views (models/derived.py),
always at the recipe's batch size (a short last batch is padded), so it is traced once. Both
engines hand ``recipe.map(batches)`` two batches at a time, run side by side.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vizcore.datasets.index import DEFAULT_BATCH_SIZE
from vizcore.errors import VizcoreError
from vizcore.models.graph import SCORE, all_layers
from vizcore.models.inference import softmax
from vizcore.models.layers import check_feature_map_layer, layer_infos
from vizcore.models.spec import LoadedModel

TOP_CLASSES = 5
SIDE_BY_SIDE = 2  # batches an index pass hands ``IndexRecipe.map`` at once
IMAGE = "image"  # the input column: N x S x S x 3 uint8, fitted to the model
EMBEDDING = "embedding"


@dataclass(frozen=True)
class ModelChoice:
    """Which model an index uses: a registry name, or a model file with its preprocessing and class names."""

    name: str | None = None
    file: str | None = None
    preprocessing: str | None = None
    class_names: str | None = None

    def load(self) -> LoadedModel:
        """The model, a file going through the same checks as an upload. Raises VizcoreError with one sentence."""
        import vizcore

        if self.file is not None:
            return vizcore.load_model(Path(self.file), self.preprocessing, self.class_names)
        return vizcore.load_model(self.name or vizcore.DEFAULT_MODEL)

    def absolute(self) -> ModelChoice:
        """The same choice with its file paths made absolute, to be loaded again from any folder."""
        def resolved(path):
            return None if path is None else str(Path(path).resolve())

        return ModelChoice(self.name, resolved(self.file), self.preprocessing, resolved(self.class_names))

    def as_dict(self) -> dict:
        return asdict(self)


def embedding_layer(loaded: LoadedModel) -> str:
    """The layer whose output is the embedding: the one feeding the model's last Dense layer.

    Raises VizcoreError when the model has no Dense layer fed by a single flat layer.
    """
    graph = loaded.derived.layer_graph(())
    dense = [layer for layer in all_layers(loaded.keras_model) if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise VizcoreError("The model has no Dense layer, so vizcore cannot tell which features to index as its embedding.")
    last = dense[-1]
    if last.name not in {layer.name for layer in graph.layers}:
        graph = loaded.derived.copy("flat")
    inbound = graph.get_layer(last.name).input._keras_history.operation
    if len(inbound.output.shape) != 2:
        raise VizcoreError(f"The last Dense layer {last.name!r} is fed by a feature map, not a flat embedding.")
    return inbound.name


def channel_maxima(feature_map):
    """Per image and channel: the largest activation and its (y, x) cell. ``feature_map``: N x H x W x C."""
    width, channels = feature_map.shape[2], feature_map.shape[3]
    flat = tf.reshape(feature_map, [tf.shape(feature_map)[0], -1, channels])
    where = tf.argmax(flat, axis=1, output_type=tf.int32)
    return tf.reduce_max(flat, axis=1), where // width, where % width


def index_outputs(model, batch):
    """``model``'s scores, embedding and channel maxima for a batch in model space; for ``View.traced``."""
    outputs = model(batch, training=False)
    result = {}
    for name, value in outputs.items():
        if len(value.shape) == 4:
            result[f"{name}/max"], result[f"{name}/y"], result[f"{name}/x"] = channel_maxima(value)
        else:
            result[name] = value
    return result


class IndexRecipe:
    """Loads the model once; ``recipe(batch)`` computes the index columns for a batch (see the module docstring).

    ``layers``: feature-map layers whose channel maxima are kept. ``batch_size``: the traced batch
    shape; a batch may hold fewer images (padded) but not more.
    """

    def __init__(self, model: ModelChoice | LoadedModel = ModelChoice(), layers=(), batch_size: int = DEFAULT_BATCH_SIZE):
        if not 1 <= batch_size <= 1024:
            raise VizcoreError(f"The batch size must be between 1 and 1024, not {batch_size}.")
        self.loaded = model if isinstance(model, LoadedModel) else model.load()
        self.layers = tuple(check_feature_map_layer(self.loaded, name, "index") for name in layers)
        self.batch_size = batch_size
        self.embedding_layer = embedding_layer(self.loaded)
        self.input_size = self.loaded.spec.input_size
        self.class_names = self.loaded.class_names
        shapes = {info.name: info.shape for info in layer_infos(self.loaded)}
        self.embedding_size = int(shapes[self.embedding_layer][-1])
        self.channels = {layer: int(shapes[layer][-1]) for layer in self.layers}

    @functools.cached_property
    def view(self):
        """The traced view the batches run through, built on first use (a Ray driver that only writes never builds it)
        and held while the recipe lives, as the derived views' bound may drop it from their list meanwhile."""
        return self.loaded.derived.attribution((self.embedding_layer, *self.layers))

    def __call__(self, batch: dict) -> dict:
        """The index columns for one batch, its forward pass a quick turn on the model."""
        return self._columns(lambda model_space: self.loaded.call(index_outputs, model_space, view=self.view), batch)

    def map(self, batches: list[dict]) -> list[dict]:
        """The index columns for several batches, side by side, in one long-run step on the model (the index pass).

        Each batch runs in its own thread, so one batch's serial parts (numpy before and after the
        model, TensorFlow's single-threaded ops) fill the cores the other leaves idle: two at once
        gave the local index pass about 7% more images/s on 2 cores (same-window runs over 1,000
        photos). The traced function is shared; its shape stays the recipe's batch size. More than
        ``SIDE_BY_SIDE`` batches wait their turn for a thread.
        """
        if not batches:
            return []
        forward = self.view.traced(index_outputs)  # built and looked up once, before the threads
        with self.loaded.lock.step():
            if len(batches) == 1:
                return [self._columns(forward, batches[0])]
            others = [self._helpers.submit(self._columns, forward, batch) for batch in batches[1:]]
            first = self._columns(forward, batches[0])
            return [first, *(future.result() for future in others)]

    @functools.cached_property
    def _helpers(self) -> ThreadPoolExecutor:
        """The threads beside the caller's for ``map``, kept while the recipe lives (a new thread per call raised the
        index pass's peak memory by 100-170 MB, bench/index.py's subject); they end when the recipe is dropped."""
        return ThreadPoolExecutor(SIDE_BY_SIDE - 1, thread_name_prefix="vizcore-index-batch")

    def _columns(self, forward, batch: dict) -> dict:
        """``batch``'s index columns, ``forward`` taking the padded batch in model space to ``index_outputs``."""
        images = np.asarray(batch[IMAGE])
        count = len(images)
        size = self.input_size
        if count > self.batch_size or images.shape[1:] != (size, size, 3):
            raise ValueError(f"expected at most {self.batch_size} images of {size} x {size} x 3, got {images.shape}")
        padded = np.zeros((self.batch_size, size, size, 3), dtype=np.float32)
        padded[:count] = images
        model_space = np.asarray(self.loaded.spec.preprocessing.to_model(padded), dtype=np.float32)
        outputs = forward(tf.constant(model_space))
        outputs = {name: np.asarray(value)[:count] for name, value in outputs.items()}
        probabilities = _probabilities(outputs[SCORE])
        top = np.argsort(-probabilities, axis=1, kind="stable")[:, :TOP_CLASSES].astype(np.int32)
        result = {name: np.asarray(value) for name, value in batch.items() if name != IMAGE}
        result["top_classes"] = top
        result["top_probabilities"] = np.take_along_axis(probabilities, top, axis=1).astype(np.float32)
        result[EMBEDDING] = outputs[self.embedding_layer].astype(np.float16)
        for layer in self.layers:
            result[f"{layer}/max"] = outputs[f"{layer}/max"].astype(np.float32)
            result[f"{layer}/y"] = outputs[f"{layer}/y"].astype(np.int32)
            result[f"{layer}/x"] = outputs[f"{layer}/x"].astype(np.int32)
        return result


def _probabilities(scores: np.ndarray) -> np.ndarray:
    """Scores as probabilities: a row already in 0..1 summing to 1 stays, anything else gets a softmax."""
    scores = scores.astype(np.float32)
    sums = scores.sum(axis=1, keepdims=True)
    is_distribution = (scores.min(axis=1, keepdims=True) >= 0) & (np.abs(sums - 1) < 1e-3)
    return np.where(is_distribution, scores, softmax(scores)).astype(np.float32)
