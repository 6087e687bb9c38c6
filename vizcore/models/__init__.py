"""The model registry: every model vizcore can load, by name.

``load_model(name)`` returns a LoadedModel (the Keras model with its spec); the embedded default
``efficientnet_lite0`` works offline, the keras.applications zoo downloads its weights once.
``load_model(path)`` loads your own .keras/.h5 file, checked first exactly like an upload.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from vizcore.device import configure_devices
from vizcore.errors import VizcoreError
from vizcore.models import efficientnet_lite, zoo
from vizcore.models.class_names import imagenet_class_names
from vizcore.models.preprocessing import PREPROCESSING, Preprocessing, get_preprocessing
from vizcore.models.spec import LoadedModel, ModelSpec, Presets
from vizcore.models.user_model import (
    DEFAULT_PREPROCESSING,
    USER_PREPROCESSING,
    UserModelUpload,
    is_user_model,
    load_model_file,
    load_user_model,
)

DEFAULT_MODEL = "efficientnet_lite0"
MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")

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


def is_model_file(name_or_path) -> bool:
    """Whether ``load_model`` reads ``name_or_path`` as a file: a Path, a name with a folder separator or a
    model-file suffix, or an existing file that is not also a registry name."""
    if isinstance(name_or_path, os.PathLike):
        return True
    text = str(name_or_path)
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    if any(separator in text for separator in separators) or text.lower().endswith(MODEL_FILE_SUFFIXES):
        return True
    return text not in MODELS and os.path.isfile(text)


def _load_file(path, preprocessing: str, class_names) -> LoadedModel:
    if class_names is None or isinstance(class_names, (str, os.PathLike)):
        return load_model_file(path, preprocessing, class_names)
    if not isinstance(class_names, Sequence):
        raise VizcoreError("class_names must be a file path (.txt or .json) or a list of names.")
    # A list goes through the same checks as a class-names file: written as the .json one would be.
    with tempfile.TemporaryDirectory(prefix="vizcore-names-") as folder:
        names_path = Path(folder) / "class_names.json"
        names_path.write_text(json.dumps([str(name) for name in class_names]), encoding="utf-8")
        return load_model_file(path, preprocessing, names_path)


def load_model(
    name_or_path: str | os.PathLike = DEFAULT_MODEL, preprocessing: str | None = None, class_names=None
) -> LoadedModel:
    """A registry model by name, or your own .keras/.h5 model file (slow: seconds); callers never mutate it.

    For a file, ``preprocessing`` is one of USER_PREPROCESSING (default ``unit``: pixels / 255) and
    ``class_names`` a .txt/.json file path or a list of names (default ``class 0``, ``class 1``...).
    The file is checked exactly like an upload in the app before Keras reads it; a refusal, like an
    unknown name, raises VizcoreError with one sentence.
    """
    if is_model_file(name_or_path):
        return _load_file(name_or_path, preprocessing or DEFAULT_PREPROCESSING, class_names)
    if preprocessing is not None or class_names is not None:
        raise VizcoreError("preprocessing and class_names apply to your own model files only, not to registry models.")
    spec = get_spec(name_or_path)
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
    "is_model_file",
    "is_user_model",
    "load_model",
    "load_model_file",
    "load_user_model",
    "weights_available_offline",
]
