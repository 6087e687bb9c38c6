"""The one owner of everything derived from a loaded model: copies, layer views and traced functions.

Techniques need other shapes of the same network: a flat one-graph copy (layers inside nested
models reachable, scores before the softmax), the same with batch norms folded into the
convolutions (faster), one with guided-backpropagation ReLUs, one that takes images of any size,
and views of any of these that output chosen layers. Each kind of copy is built once per model
(a copy has its own weights: a handful per model at most), and views over a copy share its
weights. Every model and view carries its own traced functions (``View.traced``), the way Keras
keeps ``predict_function`` on the model, so a trace never outlives the weights it captured: when
a view leaves the bounded LRU, or the LoadedModel is dropped, its traces and weights go with it.
One lock guards the whole table.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Callable

import keras
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.models.folding import folded_convolutions, folded_copy
from vizcore.models.graph import SCORE, all_layers, flat_copy
from vizcore.models.layers import unknown_layer

MAX_VIEWS = 6  # layer views kept per model, least recently used dropped first: a deep view with its traces is ~15 MB
# Randomised copies kept per model for sanity checks (vizcore/attribution/sanity.py): one per depth
# of the default cascade, so repeated checks reuse their copies and traces instead of leaking new ones.
MAX_RANDOMISED = 4

# Kinds of copy, each built at most once per model.
FLAT = "flat"  # one graph, nested models inlined, {"score": logits} output; exact
FOLDED = "folded"  # FLAT with batch norms folded: attribution's fast copy
GUIDED = "guided"  # FLAT with guided-backpropagation ReLUs
ANY_SIZE = "any-size"  # the feature-map trunk for images of any size, batch norms folded
ANY_SIZE_EXACT = "any-size-exact"  # the same unfolded, for reading a convolution a batch norm follows
# FOLDED for images of any size: the whole network to its scores; None when the head needs one size (a Flatten)
ANY_SIZE_SCORED = "any-size-scored"

_COPY_ERRORS = (ValueError, TypeError, KeyError)  # a graph Keras cannot clone or fold this way


class View:
    """A Keras model (the loaded one, a copy, or a view of chosen layers) with the traced functions that run it."""

    def __init__(self, model: keras.Model):
        self.model = model
        self._traced: dict[Callable, Callable] = {}
        self._lock = threading.Lock()

    def traced(self, python_function: Callable) -> Callable:
        """``python_function(model, *args)`` as a tf.function of ``*args`` on this view's model, traced once per shape."""
        with self._lock:
            function = self._traced.get(python_function)
            if function is None:
                # A partial, not a closure: TensorFlow counts retracing per code object, and every
                # view's closure would share one, so each new view's first trace would log a warning.
                function = tf.function(functools.partial(python_function, self.model), reduce_retracing=True)
                self._traced[python_function] = function
            return function

    def tracing_counts(self) -> dict[str, int]:
        with self._lock:
            return {
                python_function.__name__: function.experimental_get_tracing_count()
                for python_function, function in self._traced.items()
            }


def forward(model, batch):
    """The plain inference call, for ``View.traced``."""
    return model(batch, training=False)


class DerivedModels:
    """Copies and views of one Keras model, built on first use; see the module docstring."""

    def __init__(self, source: keras.Model, max_views: int = MAX_VIEWS):
        self.base = View(source)
        self._copies: dict[str, keras.Model | None] = {}  # None: this kind cannot be built for the model
        self._folded: dict[int, frozenset[str]] = {}  # id(copy) -> convolutions whose output folding changed
        self._views: OrderedDict = OrderedDict()
        self._max_views = max_views
        self._randomised: OrderedDict = OrderedDict()
        self._lock = threading.RLock()
        self._nested = {layer.name for layer in all_layers(source)} - {layer.name for layer in source.layers}

    # Copies -----------------------------------------------------------------------------------

    def copy(self, kind: str) -> keras.Model | None:
        """The model's copy of ``kind`` (FLAT, FOLDED, GUIDED, ANY_SIZE, ANY_SIZE_EXACT); None if it cannot be built."""
        with self._lock:
            if kind not in self._copies:
                self._copies[kind] = self._build_copy(kind)
            return self._copies[kind]

    def _build_copy(self, kind: str) -> keras.Model | None:
        source = self.base.model
        if kind == FLAT:
            return flat_copy(source)
        if kind == GUIDED:
            return flat_copy(source, guided=True)
        if kind == FOLDED:  # from a throwaway flat copy unless one is kept anyway: one copy of the weights, not two
            return self._folded_copy(self._copies.get(FLAT) or flat_copy(source))
        if kind == ANY_SIZE_SCORED:
            return self._folded_copy(self._copies.get(FLAT) or flat_copy(source), input_shape=(None, None, 3))
        if kind in (ANY_SIZE, ANY_SIZE_EXACT):
            graph = self.copy(FLAT) if self._nested else source
            trunk = _last_feature_map(graph)
            if trunk is None:
                return None
            fixed = keras.Model(graph.inputs[0], trunk.output, name="trunk")
            return self._folded_copy(fixed, input_shape=(None, None, 3), fold=kind == ANY_SIZE)
        raise ValueError(f"unknown copy kind {kind!r}")

    def _folded_copy(self, model: keras.Model, **options) -> keras.Model | None:
        try:
            copy = folded_copy(model, **options)
        except _COPY_ERRORS:
            return None
        if options.get("fold", True):
            self._folded[id(copy)] = folded_convolutions(model)
        return copy

    def _reads_folded(self, copy: keras.Model, layers) -> bool:
        """True when a layer in ``layers`` is a convolution whose batch norm ``copy`` has folded into it."""
        return bool(self._folded.get(id(copy), frozenset()).intersection(layers))

    # Views ------------------------------------------------------------------------------------

    def view(self, key: tuple, build: Callable[[], keras.Model]) -> View:
        """The view under ``key``, built by ``build()`` on first use; the least recently used goes past MAX_VIEWS."""
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
            view = View(build())
            self._views[key] = view
            while len(self._views) > self._max_views:
                self._views.popitem(last=False)
            return view

    def layer_graph(self, layers) -> keras.Model:
        """A graph whose ``get_layer`` finds every name in ``layers``: the model, or its flat copy for nested layers."""
        if self._nested.intersection(layers):
            return self.copy(FLAT)
        return self.base.model

    def extractor(self, layer: str) -> View:
        """``layer``'s output for a model-sized batch, exactly as the model computes it (shares its weights)."""

        def build():
            graph = self.layer_graph((layer,))
            return keras.Model(graph.inputs[0], _layer(graph, layer).output, name=f"extract_{layer}")

        return self.view(("extractor", layer), build)

    def attribution(self, layers: tuple[str, ...] = (), guided: bool = False) -> View:
        """``{"score": logits, layer: feature map, ...}`` for a model-sized batch.

        Unguided views come from the folded copy (same numbers to float rounding, about twice
        as fast on a CPU), unless a layer asked for is a convolution whose batch norm was folded
        into it, or the model cannot be folded: then from the exact flat copy.
        """

        def build():
            copy = self.copy(GUIDED if guided else FOLDED)
            if copy is None or not guided and self._reads_folded(copy, layers):
                copy = self.copy(FLAT)
            outputs = {SCORE: copy.output[SCORE], **{name: _layer(copy, name).output for name in layers}}
            return keras.Model(copy.inputs[0], outputs, name="attribution")

        return self.view(("attribution", guided, *layers), build)

    def features(self, layers: tuple[str, ...]) -> View:
        """``{layer: feature map}`` for images of any size (the optimisation loops' model).

        From the folded any-size copy; from the exact one when a layer is a folded convolution;
        and when the model cannot take other sizes, at its own input size only. ``SCORE`` among
        ``layers`` adds the class scores before the softmax (from the whole folded network, at any
        size where its head allows).
        """
        if SCORE in layers:
            return self._scored_features(layers)

        def build():
            copy = self.copy(ANY_SIZE)
            if copy is not None and self._reads_folded(copy, layers):
                copy = self.copy(ANY_SIZE_EXACT)
            if copy is None or any(not _has_layer(copy, name) for name in layers):
                copy = self.layer_graph(layers)
            outputs = {name: _feature_map(copy, name).output for name in layers}
            return keras.Model(copy.inputs[0], outputs, name="features")

        return self.view(("features", *layers), build)

    def _scored_features(self, layers: tuple[str, ...]) -> View:
        def build():
            copy = self.copy(ANY_SIZE_SCORED)
            if copy is None or self._reads_folded(copy, layers):
                copy = self.copy(FLAT)
            outputs = {name: copy.output[SCORE] if name == SCORE else _feature_map(copy, name).output for name in layers}
            return keras.Model(copy.inputs[0], outputs, name="scored_features")

        return self.view(("features", *layers), build)

    # Randomised copies ---------------------------------------------------------------------

    def randomised(self, key: tuple, build: Callable[[], object]) -> object:
        """The randomised copy under ``key``, built by ``build()`` on first use; the least recently used goes past MAX_RANDOMISED.

        A copy is whatever ``build`` returns (sanity.py: a LoadedModel over a clone with its top
        layers re-initialised): it owns its own weights, views and traces, and dies with this model.
        """
        with self._lock:
            if key in self._randomised:
                self._randomised.move_to_end(key)
                return self._randomised[key]
            copy = build()
            self._randomised[key] = copy
            while len(self._randomised) > MAX_RANDOMISED:
                self._randomised.popitem(last=False)
            return copy

    def tracing_counts(self) -> dict[str, int]:
        """Function name -> traces, summed over the model and its live views (for soak tests and benches)."""
        with self._lock:
            views = [self.base, *self._views.values()]
        counts: dict[str, int] = {}
        for view in views:
            for name, count in view.tracing_counts().items():
                counts[name] = counts.get(name, 0) + count
        return counts

    def __len__(self) -> int:
        with self._lock:
            return len(self._views)


def _has_layer(model: keras.Model, name: str) -> bool:
    try:
        model.get_layer(name)
    except ValueError:
        return False
    return True


def _layer(model: keras.Model, name: str):
    try:
        return model.get_layer(name)
    except ValueError:
        raise unknown_layer(name, [layer.name for layer in model.layers]) from None


def _feature_map(model: keras.Model, name: str):
    layer = _layer(model, name)
    if len(layer.output.shape) != 4:
        raise VizcoreError(f"Layer {name!r} has no feature map to optimise: pick a convolutional layer.")
    return layer


def _last_feature_map(model: keras.Model):
    """The last layer, in graph order, whose output is a feature map: the end of the any-size trunk."""
    last = None
    for layer in model.layers:
        output = getattr(layer, "output", None)
        if output is not None and len(output.shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            last = layer
    return last
