"""What a loaded model's layers are: names, output shapes, feature maps, presets, and the CAM default.

Nested models (a keras.applications base inside a Sequential) are opened up, so every layer a
user can pick is listed, in graph order. Unknown names get one sentence naming the closest ones.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras

from vizcore.errors import VizcoreError
from vizcore.models.graph import all_layers

if TYPE_CHECKING:  # spec.py imports this module's owner (derived.py), so not at run time
    from vizcore.models.spec import LoadedModel

LAYERS_COMMAND = "vizcore layers"
CLOSEST_NAMES = 3


@dataclass(frozen=True)
class LayerInfo:
    """One layer: ``shape`` is its output shape without the batch axis (None where it varies)."""

    name: str
    kind: str  # the Keras class, e.g. Conv2D
    shape: tuple

    @property
    def block(self) -> str:
        return block_of(self.name)

    @property
    def is_feature_map(self) -> bool:
        """Height x width x channels: a layer the explorer, gallery, DeepDream and style transfer can read."""
        return len(self.shape) == 3

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def channels(self) -> int:
        return self.shape[-1]

    @property
    def shape_text(self) -> str:
        return "×".join("?" if size is None else str(size) for size in self.shape)


_BLOCK_PATTERN = re.compile(r"^(.*?block_?\d+[a-z]?)(?:_|$)")


def block_of(layer_name: str) -> str:
    """``stage3_block2_dwconv`` -> ``stage3_block2``; ``block3_conv1`` -> ``block3``; ``mixed4`` -> ``mixed4``."""
    match = _BLOCK_PATTERN.match(layer_name)
    if match:
        return match.group(1)
    return layer_name.split("_")[0]


def layer_infos(loaded: LoadedModel) -> list[LayerInfo]:
    """Every layer of the model (nested models opened up, inputs left out), in graph order."""
    infos = []
    for layer in all_layers(loaded.keras_model):
        if isinstance(layer, keras.layers.InputLayer) or getattr(layer, "output", None) is None:
            continue
        infos.append(LayerInfo(layer.name, type(layer).__name__, tuple(layer.output.shape[1:])))
    return infos


def feature_map_layers(loaded: LoadedModel) -> list[LayerInfo]:
    """The layers whose output is a feature map (H x W x C), in graph order."""
    return [info for info in layer_infos(loaded) if info.is_feature_map]


def spatial_layer_names(loaded: LoadedModel) -> list[str]:
    """Feature-map layers larger than 1 x 1 (the ones a CAM can use), in graph order."""
    return [
        info.name for info in feature_map_layers(loaded) if (info.height or 2) > 1 and (info.width or 2) > 1
    ]


def default_cam_layer(loaded: LoadedModel) -> str:
    """The model's Grad-CAM preset if it has one, else the last layer with spatial size above 1."""
    names = spatial_layer_names(loaded)
    if loaded.spec.presets.gradcam_layer in names:
        return loaded.spec.presets.gradcam_layer
    if not names:
        raise VizcoreError("The model has no convolutional layer with a spatial map to explain.")
    return names[-1]


def unknown_layer(name: str, known) -> VizcoreError:
    """The error for a layer name the model does not have, naming the closest names it does have."""
    closest = difflib.get_close_matches(name, list(known), n=CLOSEST_NAMES, cutoff=0.5)
    hint = f"; closest: {', '.join(closest)}" if closest else ""
    return VizcoreError(f"The model has no layer called {name!r}{hint} (`{LAYERS_COMMAND}` lists them all).")


def check_feature_map_layer(loaded: LoadedModel, name: str, purpose: str = "show") -> str:
    """``name`` when it is a feature-map layer of the model; else one sentence on what is wrong."""
    infos = {info.name: info for info in layer_infos(loaded)}
    if name not in infos:
        raise unknown_layer(name, infos)
    if not infos[name].is_feature_map:
        raise VizcoreError(f"Layer {name!r} has no feature map to {purpose}: pick a convolutional layer.")
    return name


def check_cam_layer(loaded: LoadedModel, name: str) -> str:
    names = spatial_layer_names(loaded)
    if name not in names:
        if name in {info.name for info in layer_infos(loaded)}:
            raise VizcoreError(f"Layer {name!r} has no spatial map for a CAM: pick a convolutional layer.")
        raise unknown_layer(name, names)
    return name


def preset_roles(loaded: LoadedModel) -> dict[str, list[str]]:
    """Layer name -> the presets it appears in (explorer, gradcam, dream, style, content, gallery)."""
    presets = loaded.spec.presets
    roles: dict[str, list[str]] = {}
    for role, names in (
        ("explorer", presets.explorer_layers),
        ("gradcam", (presets.gradcam_layer,)),
        ("dream", tuple(presets.dream_layers)),
        ("style", presets.style_layers),
        ("content", (presets.content_layer,)),
        ("gallery", tuple(layer for layer, _ in presets.gallery)),
    ):
        for name in names:
            if name:
                roles.setdefault(name, []).append(role)
    return roles
