import keras
import numpy as np
import pytest

from vizcore.models import zoo
from vizcore.models.folding import folded_copy


def _conv_bn_model():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(6.0, name="relu")(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="dw_bn")(x)
    branch = keras.layers.Conv2D(12, 1, name="side")(inputs)  # feeds two consumers: must not be folded
    y = keras.layers.BatchNormalization(name="side_bn")(branch)
    z = keras.layers.Add(name="add")([y[:, 1:-1, 1:-1], x])
    outputs = keras.layers.Add(name="plus_raw")([z, branch[:, 1:-1, 1:-1]])
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, channels), rng.normal(size=channels),
                               rng.normal(size=channels), rng.uniform(0.5, 2, channels)])
    return model


def test_folded_copy_computes_the_same_function_with_fewer_batch_norms():
    model = _conv_bn_model()
    before = [w.copy() for w in model.get_weights()]
    copy = folded_copy(model, input_shape=(None, None, 3))
    images = np.random.default_rng(1).normal(size=(2, 20, 24, 3)).astype(np.float32)
    np.testing.assert_allclose(copy(images).numpy(), model(images).numpy(), rtol=1e-4, atol=1e-4)
    kinds = {layer.name: type(layer).__name__ for layer in copy.layers}
    assert kinds["bn"] != "BatchNormalization" and kinds["dw_bn"] != "BatchNormalization"
    assert kinds["side_bn"] == "BatchNormalization"  # its convolution's output is also used raw
    for original, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(original, now)  # the source model is untouched


def test_a_kept_convolution_keeps_its_own_output():
    model = _conv_bn_model()
    reader = keras.Model(model.inputs[0], {"conv": model.get_layer("conv").output, "bn": model.get_layer("bn").output})
    copy = folded_copy(reader, keep=("conv", "bn"))
    images = np.random.default_rng(2).normal(size=(1, 8, 8, 3)).astype(np.float32)
    for name, value in copy(images).items():
        np.testing.assert_allclose(value.numpy(), reader(images)[name].numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, layer", [("resnet50", "conv3_block4_out"), ("mobilenet_v2", "block_6_expand_relu")])
def test_zoo_models_fold_to_the_same_features(name, layer):
    base = zoo.ARCHITECTURES[name](weights=None, include_top=False, input_shape=(96, 96, 3))
    reader = keras.Model(base.inputs[0], base.get_layer(layer).output)
    copy = folded_copy(reader, input_shape=(None, None, 3))
    images = np.random.default_rng(3).normal(size=(1, 96, 96, 3)).astype(np.float32)
    expected = reader(images).numpy()
    np.testing.assert_allclose(copy(images).numpy(), expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in copy.layers) < sum(
        isinstance(l, keras.layers.BatchNormalization) for l in reader.layers
    )
    keras.backend.clear_session()
