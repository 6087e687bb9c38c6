"""What vizcore knows about a model: how to load it, feed it and which layers to show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import keras

from vizcore.models.batching import Batcher, Turns
from vizcore.models.derived import DerivedModels, View
from vizcore.models.preprocessing import Preprocessing


@dataclass(frozen=True)
class Presets:
    """Layers worth showing first, per technique (names of layers in the loaded model)."""

    explorer_layers: tuple[str, ...]
    gradcam_layer: str
    dream_layers: dict[str, float]
    style_layers: tuple[str, ...]
    content_layer: str
    # Filter gallery examples worth opening with: (layer, channels such as "0-15"), best first.
    gallery: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    display_name: str
    loader: Callable[[], keras.Model]
    input_size: int  # square side in pixels
    preprocessing: Preprocessing
    class_names: Callable[[], tuple[str, ...]]
    presets: Presets
    weights_file: str | None = None  # the file an offline user must place, None when embedded
    embedded: bool = False


@dataclass
class LoadedModel:
    """A model ready to use: its spec, the turns that serialise calls on it, and what is derived from it.

    A LoadedModel may be shared by every session of the app, so it is never mutated: copies and
    views of it (and their traced functions) live in ``derived``, bounded, and die with it. One
    quick computation runs on it at a time (``lock``: ``with loaded.lock:`` is a quick turn),
    beside at most one step of a long run; quick requests from many threads share batches
    (``batched``) and long runs take one ``step`` at a time after them (vizcore/models/batching.py).
    """

    spec: ModelSpec
    keras_model: keras.Model
    lock: Turns = field(default_factory=Turns, repr=False)
    derived: DerivedModels = field(init=False, repr=False)
    batcher: Batcher = field(init=False, repr=False)

    def __post_init__(self):
        self.derived = DerivedModels(self.keras_model)
        self.batcher = Batcher(self.lock)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names()

    def call(self, python_function: Callable, *args, view: View | None = None):
        """``python_function(model, *args)``, traced for ``view`` (default: the model itself), in a quick turn."""
        function = (view or self.derived.base).traced(python_function)
        with self.lock.quick():
            return function(*args)

    def step(self, python_function: Callable, *args, view: View | None = None):
        """One step of a long run, as ``call``: it waits while quick requests wait, and long runs alternate."""
        function = (view or self.derived.base).traced(python_function)
        with self.lock.step():
            return function(*args)

    def batched(self, python_function: Callable, *shared, rows: tuple, view: View | None = None):
        """``python_function(model, *shared, *rows)`` for these rows, in one batch with other threads' requests.

        ``rows`` are numpy arrays whose first axis is this request's rows; every output has one
        row per input row and comes back as numpy for these rows alone. ``shared`` are hashable
        arguments common to the batch (a layer name). See vizcore/models/batching.py.
        """
        return self.batcher.run(view or self.derived.base, python_function, shared, rows)
