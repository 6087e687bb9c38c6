"""The ONNX reader reads a real network's weights and refuses, with one sentence, what a weight file never needs.

The hostile files are written here with a few lines of protobuf encoding (field numbers from
onnx.proto), so the test needs neither onnx nor a stored corpus.
"""

import struct

import numpy as np
import pytest

from vizcore.errors import VizcoreError
from vizcore.models import style_network
from vizcore.models.onnx_graph import parse_onnx


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _number(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, payload: bytes | str) -> bytes:
    payload = payload.encode() if isinstance(payload, str) else payload
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def tensor(name: str, array: np.ndarray, data_type: int = 1, *extra: bytes) -> bytes:
    dims = b"".join(_number(1, dim) for dim in array.shape)
    return dims + _number(2, data_type) + _bytes(8, name) + _bytes(9, array.astype("<f4").tobytes()) + b"".join(extra)


def node(op_type: str, inputs, outputs, *extra: bytes, domain: str | None = None) -> bytes:
    body = b"".join(_bytes(1, name) for name in inputs) + b"".join(_bytes(2, name) for name in outputs)
    body += _bytes(4, op_type) + b"".join(extra)
    return body + (_bytes(7, domain) if domain is not None else b"")


def model(nodes=(), initializers=(), inputs=("x",), outputs=("y",), *extra: bytes) -> bytes:
    graph = b"".join(_bytes(1, body) for body in nodes) + b"".join(_bytes(5, body) for body in initializers)
    graph += b"".join(_bytes(11, _bytes(1, name)) for name in inputs)
    graph += b"".join(_bytes(12, _bytes(1, name)) for name in outputs)
    opset = _bytes(8, _bytes(1, "") + _number(2, 17))
    return _number(1, 8) + opset + _bytes(7, graph) + b"".join(extra)


RELU_ONLY = frozenset({"Relu", "Mul", "Constant"})
WEIGHT = np.arange(6, dtype=np.float32).reshape(2, 3)


def test_a_small_graph_reads_back_exactly():
    data = model([node("Mul", ["x", "w"], ["m"]), node("Relu", ["m"], ["y"])], [tensor("w", WEIGHT)], inputs=("x", "w"))
    graph = parse_onnx(data, RELU_ONLY)
    assert [n.op_type for n in graph.nodes] == ["Mul", "Relu"]
    assert graph.nodes[0].inputs == ("x", "w") and graph.outputs == ("y",)
    assert graph.inputs == ("x",)  # an initializer listed as an input (IR < 4) is a weight, not an input
    np.testing.assert_array_equal(graph.weights["w"], WEIGHT)
    assert graph.weights["w"].dtype == np.float32 and graph.opset == 17


def test_the_shipped_style_network_reads_with_its_known_operators():
    graph = parse_onnx(open(style_network.onnx_path(), "rb").read(), style_network.OPERATORS)
    assert graph.inputs == ("image", "style_weights") and graph.outputs == ("stylized",)
    assert graph.op_counts()["Conv"] == 18 and graph.weights["contract.0.w"].shape == (32, 3, 9, 9)
    # 166,104 float32 parameters: 18 kernels and 2 x 18 rows of 26 style scales and shifts
    parameters = sum(array.size for name, array in graph.weights.items() if name.endswith((".w", ".gamma", ".beta")))
    assert parameters == 166104


def _refusal(data: bytes, allowed=RELU_ONLY) -> str:
    with pytest.raises(VizcoreError) as caught:
        parse_onnx(data, allowed)
    sentence = str(caught.value)
    assert sentence.endswith(".") and sentence.count(". ") == 0 and "\n" not in sentence
    return sentence


def test_an_operator_outside_the_list_is_refused_with_its_name():
    assert "'Loop'" in _refusal(model([node("Loop", ["x"], ["y"])]))


def test_the_real_network_with_one_operator_swapped_is_refused():
    data = open(style_network.onnx_path(), "rb").read()
    swapped = data.replace(b"\x22\x07Sigmoid", b"\x22\x07PyFunc1")
    assert swapped != data
    assert "'PyFunc1'" in _refusal(swapped, style_network.OPERATORS)


def test_an_operator_from_another_domain_is_refused():
    assert "'com.microsoft'" in _refusal(model([node("Relu", ["x"], ["y"], domain="com.microsoft")]))


def test_weights_in_external_files_are_refused():
    external = _bytes(13, _bytes(1, "location") + _bytes(2, "/etc/passwd"))
    assert "other files" in _refusal(model([node("Relu", ["x"], ["y"])], [tensor("w", WEIGHT, 1, external)]))
    assert "other files" in _refusal(model([node("Relu", ["x"], ["y"])], [tensor("w", WEIGHT, 1, _number(14, 1))]))


def test_a_graph_inside_an_attribute_is_refused():
    subgraph = _bytes(5, _bytes(1, "then_branch") + _bytes(6, b""))
    assert "graph inside" in _refusal(model([node("Relu", ["x"], ["y"], subgraph)]))


def test_local_functions_are_refused():
    assert "functions" in _refusal(model([node("Relu", ["x"], ["y"])], (), ("x",), ("y",), _bytes(25, b"")))


def test_a_string_tensor_is_refused():
    strings = _number(2, 8) + _bytes(8, "s") + _bytes(6, "rm -rf")
    assert "type 8" in _refusal(model([node("Relu", ["x"], ["y"])], [strings]))


@pytest.mark.parametrize("data", [
    b"",
    b"\x89PNG\r\n\x1a\n" + bytes(64),
    bytes(range(256)) * 4,
    b"\x0a\xff\xff\xff\xff\x0f",  # a length far past the end
    b"\x80" * 12,  # a varint that never ends
    b"\x0b\x0c",  # a deprecated group
], ids=["empty", "png", "noise", "overlong", "endless-varint", "group"])
def test_bytes_that_are_not_onnx_are_refused(data):
    assert "damaged or not an ONNX model" in _refusal(data)


def test_a_truncated_network_is_refused():
    data = open(style_network.onnx_path(), "rb").read()
    assert "damaged or not an ONNX model" in _refusal(data[: len(data) // 2], style_network.OPERATORS)


def test_a_tensor_whose_data_does_not_fill_its_shape_is_refused():
    short = _number(1, 4) + _number(2, 1) + _bytes(8, "w") + _bytes(9, struct.pack("<f", 1.0))
    assert "damaged" in _refusal(model([node("Relu", ["x"], ["y"])], [short]))
