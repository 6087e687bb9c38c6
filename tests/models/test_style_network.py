"""The 26-style network rebuilt in Keras paints what the shipped ONNX file paints in onnxruntime, the reference."""

import numpy as np
import onnxruntime
import pytest

from test_onnx_graph import model, node, tensor  # the protobuf writer of the reader's tests (tests/models/)
from vizcore.errors import VizcoreError
from vizcore.models import style_network

TOLERANCE = 1e-4  # on the 0..1 output: float32 round-off only (measured 1.3e-5)


@pytest.fixture(scope="module")
def network():
    return style_network.load_style_network()


@pytest.fixture(scope="module")
def reference():
    return onnxruntime.InferenceSession(style_network.onnx_path(), providers=["CPUExecutionProvider"])


def _reference_output(session, content: np.ndarray, weights: np.ndarray) -> np.ndarray:
    image = np.ascontiguousarray(content.transpose(0, 3, 1, 2))
    return session.run(None, {"image": image, "style_weights": weights})[0].transpose(0, 2, 3, 1)


@pytest.mark.parametrize("size, styles", [((96, 160), {7: 1.0}), ((128, 64), {3: 0.25, 19: 0.75})],
                         ids=["one-style-wide", "blend-tall"])
def test_keras_matches_onnxruntime(network, reference, chelsea, size, styles):
    height, width = size
    content = (chelsea[:height, 100:100 + width].astype(np.float32) / 255.0)[None]
    weights = np.zeros(style_network.NUM_STYLES, np.float32)
    for number, weight in styles.items():
        weights[number] = weight
    ours = network.stylize(content, weights[None])
    theirs = _reference_output(reference, content, weights)
    assert ours.shape == theirs.shape == (1, height, width, 3)
    assert np.abs(ours - theirs).max() < TOLERANCE
    assert np.abs(ours - content).mean() > 0.05  # and it paints: the output is far from the photo


def test_the_styles_differ_from_each_other(network, chelsea):
    content = (chelsea[:64, :64].astype(np.float32) / 255.0)[None].repeat(2, axis=0)
    weights = np.zeros((2, style_network.NUM_STYLES), np.float32)
    weights[0, 0] = weights[1, 13] = 1.0
    first, second = network.stylize(content, weights)
    assert np.abs(first - second).mean() > 0.05


def test_a_graph_that_is_not_the_style_network_is_refused():
    kernel = np.zeros((32, 3, 9, 9), np.float32)
    data = model([node("Conv", ["image", "contract.0.w"], ["y"])], [tensor("contract.0.w", kernel)],
                 inputs=("image", "style_weights"), outputs=("stylized",))
    with pytest.raises(VizcoreError, match="convolutions are not those of the 26-style network"):
        style_network.convert_onnx(data)
