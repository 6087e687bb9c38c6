"""Magenta's arbitrary-style networks run in Keras agree with onnxruntime running the same 8-bit ONNX files.

Not bit for bit: vizcore keeps activations in float32 where the files round them to 8 bits after
every layer. Measured on this test's images: vector 0.03 at most, painting 0.019 mean, correlation 0.99.
"""

import os

import cv2
import numpy as np
import onnxruntime
import pytest

from vizcore.errors import VizcoreError
from vizcore.models import arbitrary_style_network as arbitrary
from vizcore.models.onnx_graph import parse_onnx
from vizcore.models.style_network import onnx_path

FILE_SIZE = 384  # the transformer file's fixed input side
VECTOR_TOLERANCE = 0.06  # under 3 of the 8-bit steps (0.023) of the file's vector
IMAGE_MEAN_TOLERANCE = 0.03  # on the 0..1 painting


def _session(file_name: str):
    path = os.path.join(os.path.dirname(onnx_path()), file_name)
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def networks():
    return arbitrary.load_arbitrary_style_networks()


def test_keras_matches_onnxruntime_from_style_image_to_painting(networks, chelsea):
    style = cv2.resize(chelsea[:, 75:375], (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32)[None] / 255
    predictor = _session(arbitrary.PREDICTOR_FILE)
    reference_vector = predictor.run(None, {predictor.get_inputs()[0].name: style})[0]
    vector = networks.style_vector(style)
    assert vector.shape == reference_vector.shape == (1, 1, 1, 100)
    assert np.abs(vector - reference_vector).max() < VECTOR_TOLERANCE

    content = cv2.resize(chelsea, (FILE_SIZE, FILE_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)[None] / 255
    transformer = _session(arbitrary.TRANSFORMER_FILE)
    names = [item.name for item in transformer.get_inputs()]
    reference = transformer.run(None, {names[0]: content, names[1]: reference_vector})[0]
    painted = networks.stylize(content, reference_vector)
    assert painted.shape == reference.shape == (1, FILE_SIZE, FILE_SIZE, 3)
    assert np.abs(painted - reference).mean() < IMAGE_MEAN_TOLERANCE
    assert np.corrcoef(painted.ravel(), reference.ravel())[0, 1] > 0.97
    assert np.abs(painted - content).mean() > 0.05  # and it paints: not the photo back


def test_the_transformer_file_with_one_operator_swapped_is_refused():
    path = os.path.join(os.path.dirname(onnx_path()), arbitrary.TRANSFORMER_FILE)
    data = open(path, "rb").read()
    swapped = data.replace(b"\x22\x07Sigmoid", b"\x22\x07PyFunc1")
    assert swapped != data
    with pytest.raises(VizcoreError, match="'PyFunc1'"):
        parse_onnx(swapped, arbitrary.OPERATORS)
