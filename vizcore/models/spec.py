"""What vizcore knows about a model: how to load it, feed it and which layers to show."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import keras

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
    """A model ready to use: its spec, the lock that serialises calls on it, and what is derived from it.

    A LoadedModel may be shared by every session of the app, so it is never mutated: copies and
    views of it (and their traced functions) live in ``derived``, bounded, and die with it.
    """

    spec: ModelSpec
    keras_model: keras.Model
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    derived: DerivedModels = field(init=False, repr=False)

    def __post_init__(self):
        self.derived = DerivedModels(self.keras_model)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names()

    def call(self, python_function: Callable, *args, view: View | None = None):
        """``python_function(model, *args)``, traced for ``view`` (default: the model itself), under the model's lock."""
        function = (view or self.derived.base).traced(python_function)
        with self.lock:
            return function(*args)
