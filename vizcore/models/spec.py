"""What vizcore knows about a model: how to load it, feed it and which layers to show."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import keras

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
    """A model ready to use, with its spec and the lock that serialises calls on it.

    A LoadedModel may be shared by every session of the app, so it is never mutated: methods
    that need a changed model build their own copy.
    """

    spec: ModelSpec
    keras_model: keras.Model
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Models derived from keras_model (feature extractors by layer name): built once, sharing its weights.
    extractors: dict[str, keras.Model] = field(default_factory=dict, repr=False)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names()
