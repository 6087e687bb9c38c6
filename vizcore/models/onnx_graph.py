"""Read an ONNX model's graph and weights into plain Python and numpy, without onnx or onnxruntime.

An ``.onnx`` file is one protobuf message (``ModelProto``). This reader decodes the protobuf wire
format itself and keeps only what a feed-forward graph needs: its nodes (operator, inputs,
outputs, attributes), its weights (initializers and ``Constant`` values) and the names of its
inputs and outputs. It executes nothing it reads, and it refuses, with one sentence, whatever a
plain weight file never needs: an operator outside the caller's list, operators from another
domain, local functions, subgraphs, weights stored in external files, and unknown tensor types.
Field numbers are those of onnx.proto (ONNX 1.x, IR version 3 or later).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from vizcore.errors import VizcoreError

MAX_FILE_BYTES = 64 * 1024 * 1024  # far above any fast style network (under 3 MB), far below what hurts

# Wire types of the protobuf encoding.
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5

# TensorProto.data_type -> numpy dtype, for the types a float or 8-bit quantised network carries.
# (float16 is left out: ONNX stores it as bit patterns in int32_data, which this reader does not unpack.)
_TENSOR_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}

# ModelProto, GraphProto, NodeProto, AttributeProto and TensorProto fields this reader uses or refuses.
_MODEL_GRAPH, _MODEL_OPSET, _MODEL_FUNCTIONS = 7, 8, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_SPARSE_INITIALIZER = 1, 5, 11, 12, 15
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE, _NODE_ATTRIBUTE, _NODE_DOMAIN = 1, 2, 4, 5, 7
_ATTR_NAME, _ATTR_F, _ATTR_I, _ATTR_S, _ATTR_T, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 4, 5, 7, 8
_ATTR_SUBGRAPHS = (6, 11)  # g, graphs: a graph inside an attribute runs code paths of its own
_ATTR_OTHER_TENSORS = (10, 22)  # tensors, sparse_tensor: never needed by the networks read here
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_FLOATS, _TENSOR_INT32S, _TENSOR_INT64S = 1, 2, 4, 5, 7
_TENSOR_NAME, _TENSOR_RAW, _TENSOR_EXTERNAL, _TENSOR_LOCATION, _TENSOR_DOUBLES = 8, 9, 13, 14, 10
_VALUE_INFO_NAME = 1
_DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class OnnxNode:
    """One operator: ``op_type`` reads ``inputs`` (value names, "" for an omitted one) and writes ``outputs``."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict = field(default_factory=dict)  # name -> int, float, bytes, numpy array, or list of int/float


@dataclass(frozen=True)
class OnnxGraph:
    """A graph's nodes in file order (ONNX stores them topologically sorted) and its weights by name."""

    nodes: tuple[OnnxNode, ...]
    weights: dict[str, np.ndarray]  # initializers and the values of Constant nodes
    inputs: tuple[str, ...]  # graph inputs that are not weights
    outputs: tuple[str, ...]
    opset: int  # version of the default operator set

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
        return counts


class _Malformed(Exception):
    pass


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise _Malformed("varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of every field in one message; value is an int or bytes."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field 0")
        if wire_type == _VARINT:
            value, position = _varint(data, position)
        elif wire_type == _FIXED64:
            value, position = data[position:position + 8], position + 8
        elif wire_type == _FIXED32:
            value, position = data[position:position + 4], position + 4
        elif wire_type == _BYTES:
            length, position = _varint(data, position)
            value, position = data[position:position + length], position + length
        else:  # groups (3, 4) are deprecated and never written by ONNX; 6 and 7 do not exist
            raise _Malformed(f"wire type {wire_type}")
        if position > len(data):
            raise _Malformed("truncated")
        yield number, wire_type, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed_varints(wire_type: int, value) -> list[int]:
    if wire_type == _VARINT:
        return [_signed(value)]
    if wire_type != _BYTES:
        raise _Malformed("integer list")
    numbers, position = [], 0
    while position < len(value):
        number, position = _varint(value, position)
        numbers.append(_signed(number))
    return numbers


def _packed_fixed(wire_type: int, value, code: str) -> list:
    size = struct.calcsize(code)
    if wire_type not in (_BYTES, _FIXED32 if size == 4 else _FIXED64) or len(value) % size:
        raise _Malformed("number list")
    return list(struct.unpack(f"<{len(value) // size}{code}", value))


def _text(value) -> str:
    if not isinstance(value, bytes):
        raise _Malformed("text")
    return value.decode("utf-8", errors="strict")


def _tensor(data: bytes) -> tuple[str, np.ndarray]:
    dims, data_type, name, raw = [], 1, "", None
    values: list = []
    for number, wire_type, value in _fields(data):
        if number == _TENSOR_DIMS:
            dims += _packed_varints(wire_type, value)
        elif number == _TENSOR_TYPE:
            data_type = value
        elif number == _TENSOR_NAME:
            name = _text(value)
        elif number == _TENSOR_RAW:
            raw = value
        elif number == _TENSOR_FLOATS:
            values += _packed_fixed(wire_type, value, "f")
        elif number == _TENSOR_DOUBLES:
            values += _packed_fixed(wire_type, value, "d")
        elif number in (_TENSOR_INT32S, _TENSOR_INT64S):
            values += _packed_varints(wire_type, value)
        elif number == _TENSOR_EXTERNAL or (number == _TENSOR_LOCATION and value != 0):
            raise VizcoreError("The ONNX file keeps its weights in other files, which vizcore does not open.")
    dtype = _TENSOR_DTYPES.get(data_type)
    if dtype is None:
        raise VizcoreError(f"The ONNX file holds a tensor of type {data_type}, which a network's weights never need.")
    if any(dim < 0 for dim in dims):
        raise _Malformed("negative dimension")
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    if raw is not None:
        if len(raw) != count * np.dtype(dtype).itemsize:
            raise _Malformed("tensor size")
        array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    else:
        if len(values) != count:
            raise _Malformed("tensor size")
        array = np.asarray(values, dtype=dtype)
    return name, array.reshape(dims)


def _attribute(data: bytes):
    name, value = "", None
    floats: list[float] = []
    ints: list[int] = []
    for number, wire_type, field_value in _fields(data):
        if number == _ATTR_NAME:
            name = _text(field_value)
        elif number == _ATTR_F:
            value = _packed_fixed(wire_type, field_value, "f")[0]
        elif number == _ATTR_I:
            value = _signed(field_value)
        elif number == _ATTR_S:
            value = field_value
        elif number == _ATTR_T:
            value = _tensor(field_value)[1]
        elif number == _ATTR_FLOATS:
            floats += _packed_fixed(wire_type, field_value, "f")
        elif number == _ATTR_INTS:
            ints += _packed_varints(wire_type, field_value)
        elif number in _ATTR_SUBGRAPHS:
            raise VizcoreError("The ONNX file has a graph inside an operator, which a feed-forward network never has.")
        elif number in _ATTR_OTHER_TENSORS:
            raise VizcoreError("The ONNX file has an operator attribute of a kind vizcore does not read.")
    if value is None:
        value = floats or ints
    return name, value


def _node(data: bytes, allowed_ops: frozenset[str]) -> OnnxNode:
    inputs, outputs, attributes, op_type, domain = [], [], {}, "", ""
    for number, _, value in _fields(data):
        if number == _NODE_INPUT:
            inputs.append(_text(value))
        elif number == _NODE_OUTPUT:
            outputs.append(_text(value))
        elif number == _NODE_OP_TYPE:
            op_type = _text(value)
        elif number == _NODE_DOMAIN:
            domain = _text(value)
        elif number == _NODE_ATTRIBUTE:
            attribute_name, attribute_value = _attribute(value)
            attributes[attribute_name] = attribute_value
    if domain not in _DEFAULT_DOMAINS:
        raise VizcoreError(f"The ONNX file uses operators from {domain!r}, outside the standard set vizcore reads.")
    if op_type not in allowed_ops:
        raise VizcoreError(f"The ONNX file uses the operator {op_type!r}, which this network never contains.")
    return OnnxNode(op_type, tuple(inputs), tuple(outputs), attributes)


def _value_name(data: bytes) -> str:
    for number, _, value in _fields(data):
        if number == _VALUE_INFO_NAME:
            return _text(value)
    return ""


def _graph(data: bytes, allowed_ops: frozenset[str], opset: int) -> OnnxGraph:
    nodes, weights, inputs, outputs = [], {}, [], []
    for number, _, value in _fields(data):
        if number == _GRAPH_NODE:
            node = _node(value, allowed_ops)
            if node.op_type == "Constant":
                if "value" not in node.attributes or not isinstance(node.attributes["value"], np.ndarray):
                    raise VizcoreError("The ONNX file has a Constant that is not a plain tensor.")
                weights[node.outputs[0]] = node.attributes["value"]
            else:
                nodes.append(node)
        elif number == _GRAPH_INITIALIZER:
            name, array = _tensor(value)
            weights[name] = array
        elif number == _GRAPH_SPARSE_INITIALIZER:
            raise VizcoreError("The ONNX file has sparse weights, which vizcore does not read.")
        elif number == _GRAPH_INPUT:
            inputs.append(_value_name(value))
        elif number == _GRAPH_OUTPUT:
            outputs.append(_value_name(value))
    inputs = [name for name in inputs if name not in weights]  # IR < 4 lists initializers as inputs too
    return OnnxGraph(tuple(nodes), weights, tuple(inputs), tuple(outputs), opset)


def parse_onnx(data: bytes, allowed_ops: frozenset[str] | set[str]) -> OnnxGraph:
    """The graph of the ONNX model in ``data`` (the file's bytes), refusing any operator not in ``allowed_ops``.

    ``Constant`` nodes are folded into ``weights`` (list "Constant" in ``allowed_ops`` to accept them).
    Raises VizcoreError with one sentence when the bytes are not an ONNX model this reader accepts.
    """
    allowed_ops = frozenset(allowed_ops)
    if len(data) > MAX_FILE_BYTES:
        raise VizcoreError(f"The ONNX file is larger than {MAX_FILE_BYTES // 2**20} MB, far above any style network.")
    try:
        graph_bytes, opset = None, None
        for number, _, value in _fields(data):
            if number == _MODEL_GRAPH:
                graph_bytes = value
            elif number == _MODEL_FUNCTIONS:
                raise VizcoreError("The ONNX file defines functions of its own, which vizcore does not run.")
            elif number == _MODEL_OPSET:
                domain, version = "", 0
                for opset_field, _, opset_value in _fields(value):
                    if opset_field == 1:
                        domain = _text(opset_value)
                    elif opset_field == 2:
                        version = opset_value
                if domain in _DEFAULT_DOMAINS:
                    opset = version
        if graph_bytes is None or opset is None:
            raise _Malformed("no graph")
        return _graph(graph_bytes, allowed_ops, opset)
    except (_Malformed, UnicodeDecodeError, struct.error, ValueError, OverflowError) as error:
        raise VizcoreError(f"The file is damaged or not an ONNX model ({error}).") from None
