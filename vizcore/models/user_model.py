"""Your own model, safely: check an uploaded .keras or .h5 file before Keras reads it, then load it.

A Keras model file describes a program: Keras builds whatever objects its configuration names,
and some of them run code (Lambda bytecode, TorchModuleWrapper pickles, TFSMLayer SavedModels),
read files on the server (lookup-layer vocabularies, HDF5 external links) or exhaust memory
(zip bombs, HDF5 datasets with huge declared shapes). So vizcore reads the file itself first,
from bytes already in memory and with every size bounded, and hands it to Keras only when

- the container is sound: a zip with a few entries of bounded, plausible sizes (checked in the
  central directory, before anything is inflated), or an HDF5 file with hard links only, no
  external or virtual datasets and bounded declared dataset sizes (checked before any data is read);
- every object the configuration names is a built-in Keras image layer (or initializer,
  regularizer, constraint, dtype policy) on the allow-lists below: anything else is refused
  (default deny), and so are non-built-in activations and strings that name Python modules.

Keras then loads it with ``safe_mode=True`` and ``compile=False``. A refusal is a VizcoreError
with one sentence naming the problem. TensorFlow SavedModels are always refused: they are
TensorFlow programs, not configurations that can be checked.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import keras

from vizcore.device import configure_devices
from vizcore.errors import VizcoreError
from vizcore.models.graph import all_layers
from vizcore.models.layers import default_cam_layer, spatial_layer_names
from vizcore.models.preprocessing import get_preprocessing
from vizcore.models.spec import LoadedModel, ModelSpec, Presets

NAME_PREFIX = "upload:"  # user model names: "upload:" + hex digest of the file, preprocessing and class names
NAME_DIGEST_CHARS = 32  # 128 bits: the name keys result caches shared by sessions, so it must not collide
DEFAULT_INPUT_SIZE = 224  # for models whose input accepts any height and width
# The choices offered for uploaded models (names in preprocessing.PREPROCESSING), default first.
USER_PREPROCESSING = ("unit", "tf", "caffe", "torch", "none")
DEFAULT_PREPROCESSING = USER_PREPROCESSING[0]

MAX_MODEL_FILE_BYTES = 200 * 2**20  # the app's upload limit, also applied to --model-file
MAX_UNPACKED_BYTES = 512 * 2**20  # zip entries inflated, or HDF5 datasets as declared, in all
MAX_CONFIG_BYTES = 16 * 2**20
MAX_ZIP_ENTRIES = 8
MAX_ZIP_DIRECTORY_BYTES = 64 * 2**10
MAX_COMPRESSION_RATIO = 50  # weights barely compress; a higher ratio on a large entry means a bomb
RATIO_CHECK_FLOOR_BYTES = 2**20  # small entries (config.json) may compress well
MAX_CONFIG_DEPTH = 200  # JSON nesting: a real model, nested models included, stays far below
MAX_HDF5_OBJECTS = 100_000
MAX_CLASS_NAMES_BYTES = 2 * 2**20
MAX_CLASS_NAME_CHARS = 80

ZIP_SIGNATURE = b"PK"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_END_OF_DIRECTORY = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
KERAS_CONFIG, KERAS_WEIGHTS, KERAS_METADATA = "config.json", "model.weights.h5", "metadata.json"
SAVED_MODEL_FILE = "saved_model.pb"

MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
LAYER_CLASSES = frozenset({
    "InputLayer",
    "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose",
    "Dense", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Identity",
    "Flatten", "Reshape", "Permute",
    "Rescaling", "Normalization", "Resizing", "CenterCrop", "Cropping2D", "ZeroPadding2D", "UpSampling2D",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
    "RandomCrop",
})
HELPER_CLASSES = frozenset({
    "__keras_tensor__",  # a reference to another layer's output inside a functional config
    "DTypePolicy", "FloatDTypePolicy",
    "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
    "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal",
    "L1", "L2", "L1L2", "OrthogonalRegularizer",
    "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm",
})
ALLOWED_CLASSES = MODEL_CLASSES | LAYER_CLASSES | HELPER_CLASSES
ALLOWED_MODULES = frozenset({
    None,  # legacy .h5 configurations name classes without a module
    "keras", "keras.layers", "keras.models", "keras.initializers", "keras.regularizers", "keras.constraints",
    "keras.src.models.functional", "keras.src.models.sequential", "keras.src.models.model",
})
BUILTIN_ACTIVATIONS = frozenset({
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
    "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
})
LOOKUP_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})
CODE_RUNNING = {
    "Lambda": "The model uses a Lambda layer, which runs arbitrary code, so vizcore will not load it.",
    "__lambda__": "The model contains a serialised Python lambda, which runs arbitrary code, so vizcore will not load it.",
    "TFSMLayer": "The model uses a TFSMLayer, which loads and runs a TensorFlow SavedModel from disk, so vizcore will not load it.",
    "TorchModuleWrapper": "The model uses a TorchModuleWrapper, which unpickles and runs PyTorch code, so vizcore will not load it.",
}
_PYTHON_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")  # os.system, builtins.eval, keras.utils.get_file
_SHOWN_CHARACTERS = re.compile(r"[^A-Za-z0-9_./>\- ]")

_MSG_SAVED_MODEL = (
    "This is a TensorFlow SavedModel, a TensorFlow program rather than a configuration vizcore can check, "
    "so vizcore will not load it: save the model as .keras instead."
)
_MSG_NOT_A_MODEL = "This file is not a Keras model: vizcore accepts .keras files and legacy .h5 files."


def shown(text, limit: int = 60) -> str:
    """User-controlled text made safe to put in a sentence (no markup characters), quoted and shortened."""
    cleaned = _SHOWN_CHARACTERS.sub("?", str(text))
    return f"'{cleaned[:limit]}{'…' if len(cleaned) > limit else ''}'"


def _size(count: int) -> str:
    if count < 2**20:
        return f"{count / 2**10:,.0f} KB"
    if count < 2**30:
        return f"{count / 2**20:,.0f} MB"
    return f"{count / 2**30:,.0f} GB"


# --- the configuration: every object it names must be allow-listed ---------------------------------------


def check_config(config) -> None:
    """Refuse a model configuration (parsed config.json or .h5 model_config) that names anything not allowed."""
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        raise VizcoreError("The file's configuration does not describe a Keras model, so vizcore will not load it.")
    config = {key: value for key, value in config.items() if key != "compile_config"}  # compile=False drops it
    try:
        # Layer names may contain dots (MobileNetV2's "mobilenetv2_1.00_224") and are only ever names.
        plain_names = set(_values_named(config, "name")) | ALLOWED_MODULES
        _check_node(config, plain_names, depth=0)
    except RecursionError:
        raise VizcoreError("The model's configuration is nested far deeper than any real model, so vizcore will not load it.") from None


def _values_named(node, key: str):
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, str):
                yield value
            else:
                yield from _values_named(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _values_named(item, key)


def _check_node(node, plain_names: set, depth: int) -> None:
    if depth > MAX_CONFIG_DEPTH:
        raise VizcoreError("The model's configuration is nested far deeper than any real model, so vizcore will not load it.")
    if isinstance(node, dict):
        if "class_name" in node:
            _check_object(node)
        for key, value in node.items():
            if not isinstance(key, str):
                raise VizcoreError("The model's configuration is malformed, so vizcore will not load it.")
            if key.endswith("activation"):
                _check_activation(value)
            _check_node(value, plain_names, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _check_node(item, plain_names, depth + 1)
    elif isinstance(node, str) and _PYTHON_PATH.fullmatch(node) and node not in plain_names:
        raise VizcoreError(f"The model's configuration names the Python object {shown(node)}, so vizcore will not load it.")


def _check_object(node: dict) -> None:
    class_name, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
    settings = node.get("config")
    if not isinstance(class_name, str):
        raise VizcoreError("The model's configuration is malformed, so vizcore will not load it.")
    if class_name in CODE_RUNNING:
        raise VizcoreError(CODE_RUNNING[class_name])
    if class_name == "function":
        raise VizcoreError(
            f"The model names the Python function {shown(f'{module}.{settings}')} where a layer setting belongs, "
            "so vizcore will not load it."
        )
    if class_name in LOOKUP_LAYERS:
        vocabulary = settings.get("vocabulary") if isinstance(settings, dict) else None
        if isinstance(vocabulary, str):
            raise VizcoreError(
                f"The model's {class_name} layer reads its vocabulary from the file {shown(vocabulary)}, "
                "which could read files on this server, so vizcore will not load it."
            )
    if registered is not None and registered != class_name:
        raise VizcoreError(
            f"The model uses the custom registered object {shown(registered)}, whose code vizcore does not have "
            "and will not run, so vizcore will not load it."
        )
    if module not in ALLOWED_MODULES:
        raise VizcoreError(
            f"The model names {shown(f'{module}.{class_name}')}, which is not a built-in Keras layer, "
            "so vizcore will not load it."
        )
    if class_name not in ALLOWED_CLASSES:
        raise VizcoreError(
            f"The model uses {shown(class_name)}, which is not one of the built-in image layers vizcore allows, "
            "so vizcore will not load it."
        )


def _check_activation(value) -> None:
    if value is None or (isinstance(value, str) and value in BUILTIN_ACTIVATIONS):
        return
    if isinstance(value, dict):
        value = ".".join(str(part) for part in (value.get("module"), value.get("config")) if isinstance(part, str))
    what = f"the activation {shown(value)}" if isinstance(value, str) and value else "an activation object"
    raise VizcoreError(f"The model uses {what}, which is not a built-in Keras activation, so vizcore will not load it.")


def _parse_config(text: bytes, where: str) -> dict:
    if len(text) > MAX_CONFIG_BYTES:
        raise VizcoreError(f"The model's {where} is over {_size(MAX_CONFIG_BYTES)}, far more than any real model needs, so vizcore will not load it.")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise VizcoreError(f"The model's {where} is not valid JSON, so vizcore cannot read it.") from None


# --- the containers: zip (.keras) and HDF5 (.h5 and the weights inside .keras) ----------------------------


def _check_zip_directory(data: bytes) -> None:
    """Entry count and directory size from the end-of-central-directory record, before zipfile parses anything."""
    end = data.rfind(ZIP_END_OF_DIRECTORY, max(0, len(data) - 22 - 65535))
    if end < 0 or len(data) < end + 22:
        raise VizcoreError("The model file is a damaged zip archive, so vizcore cannot read it.")
    if data.rfind(ZIP64_LOCATOR, max(0, end - 20), end) >= 0:
        raise VizcoreError("The model file is a ZIP64 archive, which a Keras model under 200 MB never needs, so vizcore will not load it.")
    entries = int.from_bytes(data[end + 10 : end + 12], "little")
    directory_bytes = int.from_bytes(data[end + 12 : end + 16], "little")
    if entries > MAX_ZIP_ENTRIES or directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
        raise VizcoreError(f"The model file holds {entries} files, more than a .keras model has, so vizcore will not load it.")


def _open_keras_zip(data: bytes) -> zipfile.ZipFile:
    """The archive, once its directory shows a .keras layout with sizes that cannot be a zip bomb."""
    _check_zip_directory(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise VizcoreError("The model file is a damaged zip archive, so vizcore cannot read it.") from None
    names = [entry.filename for entry in entries]
    if any(name.rsplit("/", 1)[-1] == SAVED_MODEL_FILE for name in names):
        raise VizcoreError(_MSG_SAVED_MODEL)
    if len(entries) > MAX_ZIP_ENTRIES:
        raise VizcoreError(f"The model file holds {len(entries)} files, more than a .keras model has, so vizcore will not load it.")
    total = 0
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise VizcoreError("The model file is an encrypted zip archive, so vizcore cannot read it.")
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise VizcoreError("The model file uses a zip compression method Keras never writes, so vizcore will not load it.")
        inflated_too_much = (
            entry.file_size > RATIO_CHECK_FLOOR_BYTES
            and entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1)
        )
        if entry.file_size > MAX_UNPACKED_BYTES or inflated_too_much:
            raise VizcoreError(
                f"The model file's entry {shown(entry.filename)} would inflate to {_size(entry.file_size)} "
                f"from {_size(entry.compress_size)} (a zip bomb), so vizcore will not load it."
            )
        total += entry.file_size
    if total > MAX_UNPACKED_BYTES:
        raise VizcoreError(f"The model file would inflate to {_size(total)}, more than vizcore accepts, so vizcore will not load it.")
    unexpected = sorted(set(names) - {KERAS_CONFIG, KERAS_WEIGHTS, KERAS_METADATA})
    if KERAS_CONFIG not in names:
        raise VizcoreError("The zip file has no config.json, so it is not a .keras model.")
    if unexpected:
        raise VizcoreError(
            f"The .keras file holds {shown(unexpected[0])}, which the built-in layers vizcore allows never need, "
            "so vizcore will not load it."
        )
    if KERAS_WEIGHTS not in names:
        raise VizcoreError("The .keras file has no model.weights.h5, so there are no weights vizcore can check and load.")
    return archive


def _read_entry(archive: zipfile.ZipFile, name: str) -> bytes:
    entry = archive.getinfo(name)
    try:
        with archive.open(entry) as stream:
            return stream.read(entry.file_size)  # zipfile stops at the declared size and checks the CRC
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise VizcoreError("The model file is a damaged zip archive, so vizcore cannot read it.") from None


def _open_hdf5(data: bytes) -> h5py.File:
    try:
        return h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError):
        raise VizcoreError("The HDF5 file is damaged, so vizcore cannot read it.") from None


def _hdf5_problem(file: h5py.File, name: str, link, declared: int) -> tuple[str | None, int]:
    """The sentence refusing one HDF5 link (or None), and the declared dataset bytes so far."""
    if isinstance(link, h5py.ExternalLink):
        return "The HDF5 file links to another file, which could read files on this server, so vizcore will not load it.", declared
    if not isinstance(link, h5py.HardLink):
        return "The HDF5 file contains soft or custom links, which Keras never writes, so vizcore will not load it.", declared
    item = file.get(name)
    if isinstance(item, h5py.Group):
        return None, declared
    if not isinstance(item, h5py.Dataset):
        return "The HDF5 file holds an object that is neither a group nor a dataset, so vizcore will not load it.", declared
    if item.is_virtual or item.external:
        return (
            "The HDF5 file has a dataset stored in other files (external or virtual), which could read files "
            "on this server, so vizcore will not load it."
        ), declared
    if item.dtype.kind not in "biuf":
        return "The HDF5 file holds non-numeric datasets, which model weights never are, so vizcore will not load it.", declared
    declared += math.prod(item.shape or ()) * item.dtype.itemsize
    if declared > MAX_UNPACKED_BYTES:
        return (
            f"The HDF5 file declares datasets of {_size(declared)} or more, far more than its weights can be, "
            "so vizcore will not load it."
        ), declared
    return None, declared


def _check_hdf5_objects(file: h5py.File) -> None:
    """Hard links only, no external or virtual datasets, numeric data of bounded declared size; reads no data."""
    declared, visited = 0, 0

    def check(name: str, link) -> str | None:
        nonlocal declared, visited
        visited += 1
        if visited > MAX_HDF5_OBJECTS:
            return "The HDF5 file holds far more objects than a model has, so vizcore will not load it."
        problem, declared = _hdf5_problem(file, name, link, declared)
        return problem  # anything but None stops the walk (h5py cannot carry exceptions out of it)

    try:
        problem = file.visititems_links(check)
    except (OSError, ValueError, KeyError, RuntimeError):
        raise VizcoreError("The HDF5 file is damaged, so vizcore cannot read it.") from None
    if problem is not None:
        raise VizcoreError(problem)


def _read_model_config_attribute(file: h5py.File) -> bytes:
    if "model_config" not in file.attrs:
        raise VizcoreError("The .h5 file holds only weights, not a model: save the whole model with model.save(...).")
    attribute = h5py.h5a.open(file.id, b"model_config")
    if attribute.shape not in ((), (1,)) or attribute.get_type().get_class() != h5py.h5t.STRING:
        raise VizcoreError("The .h5 file's model_config is not a text configuration, so vizcore will not load it.")
    value = file.attrs["model_config"]
    if hasattr(value, "shape") and value.shape:
        value = value[0]
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def check_model_file(data: bytes) -> str:
    """Check untrusted model file bytes without deserialising anything; returns the format, "keras" or "h5".

    Raises VizcoreError with one sentence for anything vizcore will not load.
    """
    if not data:
        raise VizcoreError("The model file is empty.")
    if len(data) > MAX_MODEL_FILE_BYTES:
        raise VizcoreError(f"The model file is {_size(len(data))}; vizcore accepts models up to {_size(MAX_MODEL_FILE_BYTES)}.")
    if data.startswith(HDF5_SIGNATURE):
        with _open_hdf5(data) as file:
            _check_hdf5_objects(file)
            check_config(_parse_config(_read_model_config_attribute(file), "model_config"))
        return "h5"
    if data.startswith(ZIP_SIGNATURE):
        with _open_keras_zip(data) as archive:
            check_config(_parse_config(_read_entry(archive, KERAS_CONFIG), "config.json"))
            weights = _read_entry(archive, KERAS_WEIGHTS)
        if not weights.startswith(HDF5_SIGNATURE):
            raise VizcoreError("The .keras file's weights are not an HDF5 file, so vizcore will not load it.")
        with _open_hdf5(weights) as file:
            _check_hdf5_objects(file)
        return "keras"
    raise VizcoreError(_MSG_NOT_A_MODEL)


# --- loading and describing the model ----------------------------------------------------------------------


@dataclass(frozen=True)
class UserModelUpload:
    """A user's model file and choices, all in memory: nothing here has been trusted yet."""

    data: bytes = field(repr=False)
    file_name: str
    preprocessing: str = DEFAULT_PREPROCESSING
    class_names_data: bytes | None = field(default=None, repr=False)
    class_names_file: str | None = None

    @functools.cached_property
    def model_name(self) -> str:
        """``upload:`` + a digest of the file, the preprocessing and the class names: the cache key of the model."""
        digest = hashlib.sha256()
        digest.update(hashlib.sha256(self.data).digest())
        digest.update(self.preprocessing.encode())
        if self.class_names_data is not None:
            digest.update(hashlib.sha256(self.class_names_data).digest())
        return NAME_PREFIX + digest.hexdigest()[:NAME_DIGEST_CHARS]


def is_user_model(name: str) -> bool:
    return name.startswith(NAME_PREFIX)


def _load_checked(data: bytes, file_format: str) -> keras.Model:
    with tempfile.TemporaryDirectory(prefix="vizcore-model-") as folder:
        path = Path(folder) / f"model.{file_format}"
        path.write_bytes(data)  # exactly the bytes that were checked
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception:  # Keras reports a bad file with many error types; the user needs one sentence
            raise VizcoreError(
                "Keras could not build a model from this file (damaged, or saved by an incompatible Keras version)."
            ) from None
    if not isinstance(model, keras.Model):
        raise VizcoreError("The file does not hold a Keras model, so vizcore cannot use it.")
    return model


def input_size_of(model: keras.Model) -> int:
    """The square input side in pixels; DEFAULT_INPUT_SIZE when the model accepts any size."""
    if len(model.inputs) != 1:
        raise VizcoreError(f"vizcore needs a model with one image input; this one has {len(model.inputs)}.")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise VizcoreError(f"vizcore needs a model that takes colour images (height x width x 3); this one takes {shape[1:]}.")
    height, width = shape[1], shape[2]
    if height is not None and width is not None and height != width:
        raise VizcoreError(f"vizcore needs a model with a square input; this one takes {height} x {width} images.")
    return int(height or width or DEFAULT_INPUT_SIZE)


def class_count_of(model: keras.Model) -> int:
    shapes = [tuple(output.shape) for output in model.outputs]
    if len(shapes) != 1 or len(shapes[0]) != 2 or not shapes[0][1]:
        raise VizcoreError(f"vizcore needs a classifier with one vector of class scores; this model outputs {shapes}.")
    return int(shapes[0][1])


def _clean_class_name(name) -> str:
    text = "".join(character for character in str(name) if character.isprintable() and character not in "<>")
    return text.strip()[:MAX_CLASS_NAME_CHARS]


def parse_class_names(data: bytes, file_name: str, count: int) -> tuple[str, ...]:
    """Class names from a .txt (one per line) or .json file (a list, or {"0": name} / {"0": [id, name]})."""
    if len(data) > MAX_CLASS_NAMES_BYTES:
        raise VizcoreError(f"The class names file is over {_size(MAX_CLASS_NAMES_BYTES)}, so vizcore will not read it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise VizcoreError("The class names file is not UTF-8 text.") from None
    if file_name.lower().endswith(".json"):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            raise VizcoreError("The class names file is not valid JSON.") from None
        if isinstance(parsed, dict):
            try:
                by_index = {int(key): value for key, value in parsed.items()}
                parsed = [by_index[index] for index in range(len(by_index))]
            except (ValueError, KeyError):
                raise VizcoreError("The class names JSON must map the indices 0, 1, 2, ... to names.") from None
            parsed = [value[-1] if isinstance(value, list) and value else value for value in parsed]
        if not isinstance(parsed, list) or not all(isinstance(name, (str, int, float)) for name in parsed):
            raise VizcoreError("The class names JSON must be a list of names, or map the indices 0, 1, 2, ... to names.")
        names = [_clean_class_name(name) for name in parsed]
    else:
        names = [_clean_class_name(line) for line in text.splitlines() if line.strip()]
    if len(names) != count:
        raise VizcoreError(f"The class names file lists {len(names)} names but the model has {count} outputs.")
    return tuple(name or f"class {index}" for index, name in enumerate(names))


def _evenly_spaced(items: list, count: int) -> list:
    """Up to ``count`` items spread from first to last, in order."""
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(position * step)] for position in range(count)]


def _at(items: list, fraction: float):
    return items[round(fraction * (len(items) - 1))]


CONV_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
ACTIVATION_LAYERS = (keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU, keras.layers.PReLU)


def derive_presets(loaded: LoadedModel) -> Presets:
    """Presets for a model vizcore has never seen, from its layers (nested models opened up).

    Grad-CAM: the last feature map larger than 1 x 1; explorer: up to 6 evenly spaced convolutions;
    dream: two late convolution/activation layers; style: up to 5 evenly spaced feature maps;
    content: one three quarters of the way in; gallery: the explorer layers with their first 16 channels.
    """
    feature_maps = spatial_layer_names(loaded)
    gradcam_layer = default_cam_layer(loaded)  # refuses a model without any spatial feature map
    layers = {layer.name: layer for layer in all_layers(loaded.keras_model)}
    convolutions = [name for name in feature_maps if isinstance(layers.get(name), CONV_LAYERS)] or feature_maps
    dreamable = [name for name in feature_maps if isinstance(layers.get(name), CONV_LAYERS + ACTIVATION_LAYERS)] or feature_maps
    explorer = _evenly_spaced(convolutions, 6)
    dream = list(dict.fromkeys((_at(dreamable, 0.6), _at(dreamable, 0.8))))
    channels = {name: int(layers[name].output.shape[-1]) for name in explorer}
    return Presets(
        explorer_layers=tuple(explorer),
        gradcam_layer=gradcam_layer,
        dream_layers={name: 1.0 for name in dream},
        style_layers=tuple(_evenly_spaced(feature_maps, 5)),
        content_layer=_at(feature_maps, 0.75),
        gallery=tuple((name, f"0-{min(16, channels[name]) - 1}") for name in explorer),
    )


def _display_name(file_name: str) -> str:
    return _SHOWN_CHARACTERS.sub("_", Path(file_name).name)[:60] or "uploaded model"


def load_user_model(upload: UserModelUpload) -> LoadedModel:
    """Check, then load, a user's model file; the result has a derived spec named ``upload.model_name``.

    Slow (seconds: Keras builds the model). Raises VizcoreError with one sentence when the file
    is refused, the preprocessing is unknown, or the class names do not fit the model.
    """
    if upload.preprocessing not in USER_PREPROCESSING:
        raise VizcoreError(f"Unknown preprocessing {shown(upload.preprocessing)}: choose one of {', '.join(USER_PREPROCESSING)}.")
    file_format = check_model_file(upload.data)
    configure_devices()
    keras_model = _load_checked(upload.data, file_format)
    size = input_size_of(keras_model)
    count = class_count_of(keras_model)
    if upload.class_names_data is not None:
        names = parse_class_names(upload.class_names_data, upload.class_names_file or "", count)
    else:
        names = tuple(f"class {index}" for index in range(count))
    spec = ModelSpec(
        name=upload.model_name,
        display_name=_display_name(upload.file_name),
        loader=lambda: keras_model,
        input_size=size,
        preprocessing=get_preprocessing(upload.preprocessing),
        class_names=lambda: names,
        presets=Presets(explorer_layers=(), gradcam_layer="", dream_layers={}, style_layers=(), content_layer=""),
    )
    provisional = LoadedModel(spec=spec, keras_model=keras_model)
    return LoadedModel(spec=replace(spec, presets=derive_presets(provisional)), keras_model=keras_model)


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    if path.is_dir():
        if (path / SAVED_MODEL_FILE).exists():
            raise VizcoreError(_MSG_SAVED_MODEL)
        raise VizcoreError(f"{shown(str(path), 120)} is a folder, not a {what}.")
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        raise VizcoreError(f"There is no file at {shown(str(path), 120)}.") from None
    except OSError as error:
        raise VizcoreError(f"{shown(str(path), 120)} could not be read ({error.strerror}).") from None
    if len(data) > limit:
        raise VizcoreError(f"The {what} {shown(path.name)} is over {_size(limit)}, the most vizcore accepts.")
    return data


def load_model_file(path, preprocessing: str = DEFAULT_PREPROCESSING, class_names_path=None) -> LoadedModel:
    """``load_user_model`` for files on disk (the CLI's --model-file, notebooks): same checks, same refusals."""
    path = Path(path)
    class_names_data = None
    if class_names_path is not None:
        class_names_data = _read_bounded(Path(class_names_path), MAX_CLASS_NAMES_BYTES, "class names file")
    upload = UserModelUpload(
        data=_read_bounded(path, MAX_MODEL_FILE_BYTES, "model file"),
        file_name=path.name,
        preprocessing=preprocessing,
        class_names_data=class_names_data,
        class_names_file=None if class_names_path is None else str(class_names_path),
    )
    return load_user_model(upload)
