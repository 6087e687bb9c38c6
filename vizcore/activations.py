"""Feature maps of any layer for one image, and per-channel statistics to read them by.

Layers are read through an extractor view of the model (same layers and weights; see
models/derived.py), so the shared model is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.models.inference import run_on_image
from vizcore.models.layers import LayerInfo, check_feature_map_layer, feature_map_layers
from vizcore.models.spec import LoadedModel

NORMALISATIONS = ("minmax", "meanstd")
SORT_ORDERS = ("mean", "index")
MEANSTD_SPREAD = 3.0  # the mean/std recipe maps mean +- 3 std onto the 0..1 display range


def explorer_layers(loaded: LoadedModel) -> list[LayerInfo]:
    """The model's preset layers first, then every other feature-map layer in graph order."""
    every = feature_map_layers(loaded)
    by_name = {info.name: info for info in every}
    presets = [by_name[name] for name in loaded.spec.presets.explorer_layers if name in by_name]
    return presets + [info for info in every if info.name not in loaded.spec.presets.explorer_layers]


def layer_activations(loaded: LoadedModel, pixels: np.ndarray, layer_name: str) -> np.ndarray:
    """The layer's output for RGB uint8 ``pixels``: float32 H x W x C, exactly what the model computes."""
    check_feature_map_layer(loaded, layer_name)
    return run_on_image(loaded, pixels, loaded.derived.extractor(layer_name))


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
