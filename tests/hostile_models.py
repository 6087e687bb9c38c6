"""Hostile model files for the upload guard, and good models for the positive tests.

``CASES`` maps a case name to a function that writes one hostile file into a folder and returns
its path. Models are built with Keras and saved with Keras where possible (saving is safe;
loading is what vizcore guards), otherwise written by hand the way an attacker would.
The code-running cases write ``MARKER`` when their code runs; tests assert it never appears.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np

MARKER = Path(tempfile.gettempdir()) / "vizcore-hostile-model-ran"
GOOD_INPUT = 32
GOOD_CLASSES = 6
NESTED_INPUT = 96
NESTED_CLASSES = 5


# --- good models ------------------------------------------------------------------------------------------


def good_tiny_model() -> keras.Model:
    """A small functional CNN (32 x 32 RGB -> 6 classes) with non-trivial random weights."""
    keras.utils.set_random_seed(0)
    image = keras.Input((GOOD_INPUT, GOOD_INPUT, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(image)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.Conv2D(24, 3, padding="same", name="conv4")(x)
    x = keras.layers.Activation("relu", name="conv4_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    output = keras.layers.Dense(GOOD_CLASSES, activation="softmax", name="predictions")(x)
    return keras.Model(image, output, name="tiny_cnn")


def nested_transfer_model() -> keras.Sequential:
    """The usual transfer-learning shape: a keras.applications base (random weights) inside a Sequential."""
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(NESTED_INPUT, NESTED_INPUT, 3), alpha=0.35
    )
    model = keras.Sequential(
        [
            keras.Input((NESTED_INPUT, NESTED_INPUT, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(name="head_pool"),
            keras.layers.Dense(NESTED_CLASSES, activation="softmax", name="head"),
        ],
        name="transfer",
    )
    _calibrate_batch_norms(model, base)
    return model


def _calibrate_batch_norms(model: keras.Model, base: keras.Model) -> None:
    """Set every batch norm's moving statistics to those of a batch of random images.

    With fresh weights and the default statistics (mean 0, variance 1), MobileNetV2's activations
    shrink layer after layer to ~1e-11 and every class gets the same probability; calibrated, the
    untrained model gives varied, image-dependent outputs, as a trained one would.
    """
    norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0  # the next training-mode call replaces the moving statistics outright
    images = np.stack([random_image(NESTED_INPUT, seed) for seed in range(8)]).astype("float32") / 127.5 - 1.0
    model(images, training=True)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum


def save_keras(model: keras.Model, path: Path) -> Path:
    keras.saving.save_model(model, path)
    return path


def save_h5(model: keras.Model, path: Path) -> Path:
    model.save(path)  # the legacy HDF5 format, chosen by the suffix
    return path


# --- helpers for hand-made files -----------------------------------------------------------------------------


def _marker_lambda():
    """A function that writes MARKER when it runs (the path is a constant inside its bytecode)."""
    return eval(f"lambda x: (__import__('pathlib').Path({str(MARKER)!r}).write_text('ran'), x)[1]")


def _built_without_marker(build):
    """Build a Lambda model (Keras runs the lambda once while building) and check the lambda really writes."""
    MARKER.unlink(missing_ok=True)
    model = build()
    if not MARKER.exists():
        raise RuntimeError("the hostile lambda did not write its marker, so it would prove nothing")
    MARKER.unlink()
    return model


def _keras_zip(path: Path, config: dict, weights: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-01-01"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
    return path


def _good_parts(folder: Path) -> tuple[dict, bytes]:
    """config.json (parsed) and model.weights.h5 of the good tiny model."""
    with zipfile.ZipFile(save_keras(good_tiny_model(), folder / "good_parts.keras")) as archive:
        return json.loads(archive.read("config.json")), archive.read("model.weights.h5")


def _layer(config: dict, name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)


def _edited_keras(folder: Path, file_name: str, edit) -> Path:
    config, weights = _good_parts(folder)
    edit(config)
    return _keras_zip(folder / file_name, config, weights)


def _edited_h5(folder: Path, file_name: str, edit) -> Path:
    path = save_h5(good_tiny_model(), folder / file_name)
    with h5py.File(path, "a") as file:
        edit(file)
    return path


# --- the hostile cases -------------------------------------------------------------------------------------


def lambda_keras(folder: Path) -> Path:
    def build():
        image = keras.Input((GOOD_INPUT, GOOD_INPUT, 3))
        x = keras.layers.Lambda(_marker_lambda(), name="payload")(image)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(image, keras.layers.Dense(3, activation="softmax")(x))

    return save_keras(_built_without_marker(build), folder / "lambda.keras")


def nested_lambda_keras(folder: Path) -> Path:
    def build():
        inner_input = keras.Input((GOOD_INPUT, GOOD_INPUT, 3))
        inner_output = keras.layers.Conv2D(4, 3)(keras.layers.Lambda(_marker_lambda(), name="payload")(inner_input))
        inner = keras.Model(inner_input, inner_output, name="innocent_base")
        return keras.Sequential([
            keras.Input((GOOD_INPUT, GOOD_INPUT, 3)), inner,
            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax"),
        ])

    return save_keras(_built_without_marker(build), folder / "nested_lambda.keras")


def lambda_h5(folder: Path) -> Path:
    def build():
        image = keras.Input((GOOD_INPUT, GOOD_INPUT, 3))
        x = keras.layers.Lambda(_marker_lambda(), name="payload")(image)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(image, keras.layers.Dense(3, activation="softmax")(x))

    return save_h5(_built_without_marker(build), folder / "lambda.h5")


def os_system_activation(folder: Path) -> Path:
    def edit(config):
        _layer(config, "conv2")["config"]["activation"] = {
            "module": "os", "class_name": "function", "config": "system", "registered_name": "system",
        }

    return _edited_keras(folder, "os_system_activation.keras", edit)


def os_system_class(folder: Path) -> Path:
    def edit(config):
        layer = _layer(config, "conv2")
        layer.update({"module": "os", "class_name": "system", "registered_name": None})
        layer["config"]["command"] = f"touch {MARKER}"

    return _edited_keras(folder, "os_system_class.keras", edit)


def builtins_eval_string(folder: Path) -> Path:
    def edit(config):
        _layer(config, "conv2")["config"]["activation"] = "builtins.eval"

    return _edited_keras(folder, "builtins_eval.keras", edit)


def keras_get_file_function(folder: Path) -> Path:
    """CVE-2025-8747's shape: a Keras utility (downloads a file) named as a function inside the config."""
    def edit(config):
        _layer(config, "conv2")["config"]["kernel_initializer"] = {
            "module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": "get_file",
        }

    return _edited_keras(folder, "get_file.keras", edit)


def custom_registered_layer(folder: Path) -> Path:
    def edit(config):
        _layer(config, "conv2").update(
            {"module": "evil_package.layers", "class_name": "Backdoor", "registered_name": "evil_package>Backdoor"}
        )

    return _edited_keras(folder, "custom_registered.keras", edit)


def tfsm_layer(folder: Path) -> Path:
    def edit(config):
        layer = _layer(config, "conv2")
        layer.update({"module": "keras.layers", "class_name": "TFSMLayer"})
        layer["config"] = {"name": "conv2", "filepath": "/tmp/attacker_saved_model", "call_endpoint": "serve"}

    return _edited_keras(folder, "tfsm_layer.keras", edit)


def torch_module_wrapper(folder: Path) -> Path:
    def edit(config):
        layer = _layer(config, "conv2")
        layer.update({"module": "keras.layers", "class_name": "TorchModuleWrapper"})
        layer["config"] = {
            "name": "conv2",
            "module": {"class_name": "__bytes__", "config": {"value": "pickled torch module with a reduce payload"}},
        }

    return _edited_keras(folder, "torch_wrapper.keras", edit)


def string_lookup_vocabulary_file(folder: Path) -> Path:
    def edit(config):
        layer = _layer(config, "conv2")
        layer.update({"module": "keras.layers", "class_name": "StringLookup"})
        layer["config"] = {"name": "conv2", "vocabulary": "/etc/passwd", "output_mode": "int"}

    return _edited_keras(folder, "string_lookup.keras", edit)


def zip_bomb_ratio(folder: Path) -> Path:
    """A real 64 MB run of zeros stored in about 64 KB: refused by its compression ratio."""
    config, _ = _good_parts(folder)
    path = folder / "zip_bomb_ratio.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("config.json", json.dumps(config))
        with archive.open("model.weights.h5", "w") as stream:
            chunk = bytes(2**20)
            for _ in range(64):
                stream.write(chunk)
    return path


def zip_bomb_declared(folder: Path) -> Path:
    """A small archive whose central directory declares a 4 GB config.json (nothing large on disk)."""
    config, weights = _good_parts(folder)
    data = bytearray(_keras_zip(folder / "bomb_base.keras", config, weights).read_bytes())
    header = data.find(b"PK\x01\x02")  # the first central-directory header: metadata.json
    while header >= 0:
        name_length = int.from_bytes(data[header + 28 : header + 30], "little")
        if bytes(data[header + 46 : header + 46 + name_length]) == b"config.json":
            data[header + 24 : header + 28] = (0xFFFFFFF0).to_bytes(4, "little")  # uncompressed size
            break
        header = data.find(b"PK\x01\x02", header + 4)
    path = folder / "zip_bomb_declared.keras"
    path.write_bytes(bytes(data))
    return path


def h5_external_link(folder: Path) -> Path:
    def edit(file):
        file["model_weights/secrets"] = h5py.ExternalLink("/etc/passwd", "/")

    return _edited_h5(folder, "external_link.h5", edit)


def keras_weights_external_link(folder: Path) -> Path:
    config, weights = _good_parts(folder)
    buffer = io.BytesIO(weights)
    with h5py.File(buffer, "a") as file:
        file["secrets"] = h5py.ExternalLink("/etc/passwd", "/")
    return _keras_zip(folder / "weights_external_link.keras", config, buffer.getvalue())


def h5_external_dataset(folder: Path) -> Path:
    def edit(file):
        file.create_dataset("model_weights/raw", shape=(16,), dtype="u1", external=[("/etc/hostname", 0, 16)])

    return _edited_h5(folder, "external_dataset.h5", edit)


def h5_virtual_dataset(folder: Path) -> Path:
    def edit(file):
        layout = h5py.VirtualLayout(shape=(16,), dtype="f4")
        layout[:] = h5py.VirtualSource("/etc/other_file.h5", "data", shape=(16,))
        file["model_weights"].create_virtual_dataset("virtual", layout)

    return _edited_h5(folder, "virtual_dataset.h5", edit)


def h5_huge_declared_shape(folder: Path) -> Path:
    """A dataset declaring 4 TB of float32 (chunked, so nothing is written): reading it would exhaust memory."""
    def edit(file):
        file.create_dataset("model_weights/huge", shape=(10**6, 10**6), dtype="f4", chunks=(64, 64))

    return _edited_h5(folder, "huge_shape.h5", edit)


def h5_weights_only(folder: Path) -> Path:
    path = folder / "weights_only.weights.h5"
    good_tiny_model().save_weights(path)
    return path.rename(folder / "weights_only.h5")


def saved_model_zip(folder: Path) -> Path:
    import tensorflow as tf

    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.call = tf.function(lambda x: x * module.scale, input_signature=[tf.TensorSpec([None], tf.float32)])
    saved = folder / "my_saved_model"
    tf.saved_model.save(module, str(saved))
    path = folder / "saved_model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for file in saved.rglob("*"):
            if file.is_file():
                archive.write(file, Path("my_saved_model") / file.relative_to(saved))
    return path


def text_named_keras(folder: Path) -> Path:
    path = folder / "notes.keras"
    path.write_text("This is not a model, just some notes about one.\n")
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "empty.keras"
    path.write_bytes(b"")
    return path


CASES = {
    "lambda_keras": lambda_keras,
    "nested_lambda_keras": nested_lambda_keras,
    "lambda_h5": lambda_h5,
    "os_system_activation": os_system_activation,
    "os_system_class": os_system_class,
    "builtins_eval_string": builtins_eval_string,
    "keras_get_file_function": keras_get_file_function,
    "custom_registered_layer": custom_registered_layer,
    "tfsm_layer": tfsm_layer,
    "torch_module_wrapper": torch_module_wrapper,
    "string_lookup_vocabulary_file": string_lookup_vocabulary_file,
    "zip_bomb_ratio": zip_bomb_ratio,
    "zip_bomb_declared": zip_bomb_declared,
    "h5_external_link": h5_external_link,
    "keras_weights_external_link": keras_weights_external_link,
    "h5_external_dataset": h5_external_dataset,
    "h5_virtual_dataset": h5_virtual_dataset,
    "h5_huge_declared_shape": h5_huge_declared_shape,
    "h5_weights_only": h5_weights_only,
    "saved_model_zip": saved_model_zip,
    "text_named_keras": text_named_keras,
    "empty_file": empty_file,
}


def random_image(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
