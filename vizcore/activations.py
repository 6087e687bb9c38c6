"""Feature maps of any layer for one image, and per-channel statistics to read them by.

Layers are read through a feature extractor: a second Keras model over the same layers and
weights, built once per (model, layer) and kept beside the shared model, which is never changed.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import keras
import numpy as np

from vizcore.attribution.graph import all_layers, flat_copy
from vizcore.errors import VizcoreError
from vizcore.models.spec import LoadedModel
from vizcore.predictions import run_on_image

NORMALISATIONS = ("minmax", "meanstd")
SORT_ORDERS = ("mean", "index")
MEANSTD_SPREAD = 3.0  # the mean/std recipe maps mean +- 3 std onto the 0..1 display range


@dataclass(frozen=True)
class LayerInfo:
    name: str
    block: str  # the stage/block a layer belongs to, for grouping in pickers
    height: int
    width: int
    channels: int

    @property
    def shape_text(self) -> str:
        return f"{self.height}×{self.width}×{self.channels}"


_BLOCK_PATTERN = re.compile(r"^(.*?block_?\d+[a-z]?)(?:_|$)")


def block_of(layer_name: str) -> str:
    """``stage3_block2_dwconv`` -> ``stage3_block2``; ``block3_conv1`` -> ``block3``; ``mixed4`` -> ``mixed4``."""
    match = _BLOCK_PATTERN.match(layer_name)
    if match:
        return match.group(1)
    return layer_name.split("_")[0]


def spatial_layers(loaded: LoadedModel) -> list[LayerInfo]:
    """Every layer whose output is a feature map (batch x H x W x C), nested models opened up, in graph order."""
    layers = []
    for layer in all_layers(loaded.keras_model):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            layers.append(LayerInfo(layer.name, block_of(layer.name), shape[1], shape[2], shape[3]))
    return layers


def explorer_layers(loaded: LoadedModel) -> list[LayerInfo]:
    """The model's preset layers first, then every other feature-map layer in graph order."""
    every = spatial_layers(loaded)
    by_name = {info.name: info for info in every}
    presets = [by_name[name] for name in loaded.spec.presets.explorer_layers if name in by_name]
    return presets + [info for info in every if info.name not in loaded.spec.presets.explorer_layers]


_extractors_lock = threading.Lock()
_FLAT = "flat"  # LoadedModel.extractors key of the flat copy used to read layers inside nested models


def model_with_layers(loaded: LoadedModel, layer_names) -> keras.Model:
    """A model whose ``get_layer`` finds every name: the loaded model, or its flat copy for nested layers.

    Keras cannot output a layer inside a nested model (a keras.applications base in a Sequential)
    next to the outer model's input, so such layers are read from a one-graph copy (built once,
    weights copied; see attribution/graph.py) that computes exactly the same outputs.
    """
    model = loaded.keras_model
    nested = {layer.name for layer in all_layers(model)} - {layer.name for layer in model.layers}
    if not nested.intersection(layer_names):
        return model
    with _extractors_lock:
        if _FLAT not in loaded.extractors:
            loaded.extractors[_FLAT] = flat_copy(model)
        return loaded.extractors[_FLAT]


def _extractor(loaded: LoadedModel, layer_name: str) -> keras.Model:
    model = model_with_layers(loaded, (layer_name,))
    with _extractors_lock:
        cache = loaded.extractors
        if layer_name not in cache:
            try:
                layer = model.get_layer(layer_name)
            except ValueError:
                raise VizcoreError(f"The model has no layer called {layer_name!r}.") from None
            if len(layer.output.shape) != 4:
                raise VizcoreError(f"Layer {layer_name!r} has no feature map to show: pick a convolutional layer.")
            cache[layer_name] = keras.Model(model.inputs, layer.output, name=f"extract_{layer_name}")
        return cache[layer_name]


def layer_activations(loaded: LoadedModel, pixels: np.ndarray, layer_name: str) -> np.ndarray:
    """The layer's output for RGB uint8 ``pixels``: float32 H x W x C, exactly what the model computes."""
    return run_on_image(loaded, pixels, _extractor(loaded, layer_name))


@dataclass(frozen=True)
class ChannelStatistics:
    mean: np.ndarray  # per channel, float32
    max: np.ndarray
    zero_fraction: np.ndarray  # share of positions where the channel is exactly 0 (dead after ReLU)


def channel_statistics(activations: np.ndarray) -> ChannelStatistics:
    flat = activations.reshape(-1, activations.shape[-1])
    return ChannelStatistics(
        mean=flat.mean(axis=0), max=flat.max(axis=0), zero_fraction=(flat == 0).mean(axis=0).astype(np.float32)
    )


def normalise_channels(activations: np.ndarray, method: str = "minmax") -> np.ndarray:
    """Each channel scaled to 0..1 for display: its own min-max, or mean +- 3 std clipped."""
    if method not in NORMALISATIONS:
        raise VizcoreError(f"Unknown normalisation {method!r}: choose one of {', '.join(NORMALISATIONS)}.")
    values = activations.astype(np.float32)
    if method == "minmax":
        low = values.min(axis=(0, 1), keepdims=True)
        span = values.max(axis=(0, 1), keepdims=True) - low
    else:
        std = values.std(axis=(0, 1), keepdims=True)
        low = values.mean(axis=(0, 1), keepdims=True) - MEANSTD_SPREAD * std
        span = 2 * MEANSTD_SPREAD * std
    return np.clip((values - low) / np.where(span > 0, span, 1.0), 0.0, 1.0)


def channel_order(activations: np.ndarray, sort: str = "mean") -> np.ndarray:
    """Channel indices by descending mean activation, or in index order."""
    if sort not in SORT_ORDERS:
        raise VizcoreError(f"Unknown sort order {sort!r}: choose one of {', '.join(SORT_ORDERS)}.")
    if sort == "index":
        return np.arange(activations.shape[-1])
    return np.argsort(-channel_statistics(activations).mean, kind="stable")


def strongest_channels(activations: np.ndarray, count: int = 10) -> list[dict]:
    """The ``count`` channels with the highest mean activation, with their statistics, strongest first."""
    statistics = channel_statistics(activations)
    return [
        {
            "channel": int(channel),
            "mean": float(statistics.mean[channel]),
            "max": float(statistics.max[channel]),
            "zero_fraction": float(statistics.zero_fraction[channel]),
        }
        for channel in channel_order(activations, "mean")[:count]
    ]
