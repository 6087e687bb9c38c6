"""The Keras rebuild against the checkpoint, recomputed here with numpy from the .pth tensors."""

import os

import keras
import numpy as np
import pytest

from vizcore.images import fit_to_model
from vizcore.models import efficientnet_lite
from vizcore.models.torch_checkpoint import read_legacy_state_dict

BN_EPSILON = 1e-3


@pytest.fixture(scope="module")
def state():
    return read_legacy_state_dict(efficientnet_lite.checkpoint_path())


def _pad_same(x, kernel, stride):
    size = x.shape[0]
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before = total // 2
    return np.pad(x, ((before, total - before), (before, total - before), (0, 0)))


def _windows(x, kernel, stride):
    padded = _pad_same(x, kernel, stride)
    return np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel), axis=(0, 1))[::stride, ::stride]


def conv_same(x, torch_weight, stride=1):
    return np.einsum("hwcij,ocij->hwo", _windows(x, torch_weight.shape[2], stride), torch_weight)


def depthwise_same(x, torch_weight, stride=1):
    return np.einsum("hwcij,cij->hwc", _windows(x, torch_weight.shape[2], stride), torch_weight[:, 0])


def batch_norm(x, state, prefix):
    scale = state[f"{prefix}.weight"] / np.sqrt(state[f"{prefix}.running_var"] + BN_EPSILON)
    return (x - state[f"{prefix}.running_mean"]) * scale + state[f"{prefix}.bias"]


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def test_layer_outputs_match_numpy_from_the_checkpoint(embedded_model, chelsea, state):
    model = embedded_model.keras_model
    x = ((fit_to_model(chelsea, 224).astype(np.float64) - 127.0) / 128.0)
    names = ["stem_relu", "stage1_block1_project_bn", "stage2_block1_dwrelu", "stage7_block1_project_bn"]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names] + [model.output])
    stem, block1, stage2_dw, last_block, probabilities = (np.asarray(t)[0] for t in probe(x[None].astype(np.float32)))

    expected_stem = relu6(batch_norm(conv_same(x, state["_conv_stem.weight"], 2), state, "_bn0"))
    np.testing.assert_allclose(stem, expected_stem, atol=2e-3)

    dw = relu6(batch_norm(depthwise_same(expected_stem, state["_blocks.0._depthwise_conv.weight"]), state, "_blocks.0._bn1"))
    expected_block1 = batch_norm(conv_same(dw, state["_blocks.0._project_conv.weight"]), state, "_blocks.0._bn2")
    np.testing.assert_allclose(block1, expected_block1, atol=5e-3)

    expanded = relu6(batch_norm(conv_same(block1.astype(np.float64), state["_blocks.1._expand_conv.weight"]), state, "_blocks.1._bn0"))
    expected_dw = relu6(batch_norm(depthwise_same(expanded, state["_blocks.1._depthwise_conv.weight"], 2), state, "_blocks.1._bn1"))
    np.testing.assert_allclose(stage2_dw, expected_dw, atol=5e-3)

    head = relu6(batch_norm(conv_same(last_block.astype(np.float64), state["_conv_head.weight"]), state, "_bn1"))
    logits = head.mean(axis=(0, 1)) @ state["_fc.weight"].T + state["_fc.bias"]
    expected_probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(probabilities, expected_probabilities, atol=1e-4)


def test_every_checkpoint_tensor_is_used(state):
    mapped = efficientnet_lite.checkpoint_to_layer_weights(state)
    used = sum(w.size for weights in mapped.values() for w in weights)
    trainable_and_stats = sum(a.size for name, a in state.items() if not name.endswith("num_batches_tracked"))
    assert used == trainable_and_stats


def test_layer_names_say_stage_and_block(embedded_model):
    names = {layer.name for layer in embedded_model.keras_model.layers}
    assert {"stem_conv", "stage1_block1_dwconv", "stage4_block3_add", "stage7_block1_project_bn", "head_relu", "logits"} <= names
    assert len(efficientnet_lite.block_names()) == 16


def test_conversion_is_cached_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path))
    first = efficientnet_lite.load_efficientnet_lite0()
    cached = tmp_path / os.path.basename(efficientnet_lite.cached_weights_path())
    assert cached.exists()
    assert [p.name for p in tmp_path.iterdir()] == [cached.name]  # no temporary file left behind

    def checkpoint_must_not_be_read():
        raise AssertionError("the cached weights should have been used")

    monkeypatch.setattr(efficientnet_lite, "checkpoint_path", checkpoint_must_not_be_read)
    second = efficientnet_lite.load_efficientnet_lite0()
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path))
    path = efficientnet_lite.cached_weights_path()
    with open(path, "wb") as stream:
        stream.write(b"half a file")
    model = efficientnet_lite.load_efficientnet_lite0()
    assert os.path.getsize(path) > 10_000_000
    reference = efficientnet_lite.convert_checkpoint()
    np.testing.assert_array_equal(model.get_layer("logits").get_weights()[0], reference.get_layer("logits").get_weights()[0])


def test_interrupted_write_leaves_no_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path))
    model = efficientnet_lite.build_architecture()

    def crash(self, path, overwrite=True):
        with open(path, "wb") as stream:
            stream.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save_weights", crash)
    with pytest.raises(KeyboardInterrupt):
        efficientnet_lite._save_atomically(model, efficientnet_lite.cached_weights_path())
    assert list(tmp_path.iterdir()) == []
