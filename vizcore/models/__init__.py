"""The model registry: every model vizcore can load, by name.

``load_model(name)`` returns a LoadedModel (the Keras model with its spec); the embedded default
``efficientnet_lite0`` works offline, the keras.applications zoo downloads its weights once.
"""

from __future__ import annotations

import os

from vizcore.device import configure_devices
from vizcore.errors import VizcoreError
from vizcore.models import efficientnet_lite, zoo
from vizcore.models.class_names import imagenet_class_names
from vizcore.models.preprocessing import PREPROCESSING, Preprocessing, get_preprocessing
from vizcore.models.spec import LoadedModel, ModelSpec, Presets
from vizcore.models.user_model import (
    USER_PREPROCESSING,
    UserModelUpload,
    is_user_model,
    load_model_file,
    load_user_model,
)

DEFAULT_MODEL = "efficientnet_lite0"

EMBEDDED_SPEC = ModelSpec(
    name=DEFAULT_MODEL,
    display_name="EfficientNet-Lite0 (embedded)",
    loader=efficientnet_lite.load_efficientnet_lite0,
    input_size=efficientnet_lite.INPUT_SIZE,
    preprocessing=get_preprocessing("lite"),
    class_names=imagenet_class_names,
    presets=Presets(
        explorer_layers=(
            "stem_relu",
            "stage2_block2_add",
            "stage3_block2_add",
            "stage4_block3_add",
            "stage6_block4_add",
            "head_relu",
        ),
        gradcam_layer="head_relu",
        dream_layers={"stage4_block3_add": 1.0, "stage5_block3_add": 1.0},
        style_layers=("stem_relu", "stage2_block2_add", "stage3_block2_add", "stage4_block3_add", "stage5_block3_add"),
        content_layer="stage5_block3_add",
        gallery=(("stage4_block3_add", "0-15"), ("stage3_block2_add", "0-15"), ("stage5_block3_add", "0-15")),
    ),
    embedded=True,
)

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (EMBEDDED_SPEC, *zoo.ZOO_SPECS)}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise VizcoreError(f"Unknown model {name!r}: choose one of {', '.join(MODELS)}.") from None


def weights_available_offline(spec: ModelSpec) -> bool:
    """True when loading ``spec`` needs no network: embedded, or its weights file is in the Keras cache."""
    if spec.embedded:
        return True
    return os.path.isfile(zoo.weights_path(spec.weights_file))


def load_model(name: str = DEFAULT_MODEL) -> LoadedModel:
    """Load a registry model by name (slow: seconds); callers share and never mutate the result."""
    spec = get_spec(name)
    configure_devices()
    return LoadedModel(spec=spec, keras_model=spec.loader())


__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "PREPROCESSING",
    "USER_PREPROCESSING",
    "LoadedModel",
    "ModelSpec",
    "Preprocessing",
    "Presets",
    "UserModelUpload",
    "get_preprocessing",
    "get_spec",
    "is_user_model",
    "load_model",
    "load_model_file",
    "load_user_model",
    "weights_available_offline",
]
