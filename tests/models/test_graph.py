import keras
import numpy as np
import pytest
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.models.graph import SCORE, flat_copy


def test_nested_layers_are_reachable_and_scores_are_the_logits(nested_model):
    images = np.random.default_rng(0).uniform(size=(2, 48, 48, 3)).astype(np.float32)
    inner_output = nested_model.get_layer("base").get_layer("base_conv2").output
    with pytest.raises(ValueError, match="not connected"):  # what peers run into ("Graph disconnected" in Keras 2)
        keras.Model(nested_model.inputs, [inner_output, nested_model.outputs[0]])
    flat = flat_copy(nested_model, ("base_conv2",))
    outputs = flat(images)
    np.testing.assert_allclose(tf.nn.softmax(outputs[SCORE]).numpy(), nested_model(images).numpy(), rtol=1e-5, atol=1e-6)
    inner = keras.Model(nested_model.get_layer("base").inputs[0], nested_model.get_layer("base").get_layer("base_conv2").output)
    np.testing.assert_allclose(outputs["base_conv2"].numpy(), inner(images).numpy(), rtol=1e-5, atol=1e-6)


def test_embedded_model_flat_copy_matches_and_ends_before_softmax(embedded_model):
    images = np.random.default_rng(1).normal(size=(1, 224, 224, 3)).astype(np.float32)
    flat = flat_copy(embedded_model.keras_model, ("head_relu",))
    logits = keras.Model(embedded_model.keras_model.inputs[0], embedded_model.keras_model.get_layer("logits").output)
    np.testing.assert_allclose(flat(images)[SCORE].numpy(), logits(images).numpy(), rtol=1e-5, atol=1e-5)


def test_guided_copy_computes_the_same_but_passes_only_positive_gradients(nested_model):
    images = tf.constant(np.random.default_rng(2).uniform(size=(1, 48, 48, 3)).astype(np.float32))
    plain, guided = flat_copy(nested_model), flat_copy(nested_model, guided=True)
    np.testing.assert_allclose(plain(images)[SCORE].numpy(), guided(images)[SCORE].numpy(), rtol=1e-6)
    gradients = []
    for model in (plain, guided):
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = model(images)[SCORE][:, 0]
        gradients.append(tape.gradient(score, images).numpy())
    assert not np.allclose(gradients[0], gradients[1])


def test_the_source_model_is_untouched(nested_model):
    before = [w.copy() for w in nested_model.get_weights()]
    flat = flat_copy(nested_model, ("base_conv1",), guided=True)
    for weight in flat.weights:
        weight.assign(tf.zeros_like(weight))
    for original, now in zip(before, nested_model.get_weights()):
        np.testing.assert_array_equal(original, now)


def test_unknown_layer_is_a_clear_error(nested_model):
    with pytest.raises(VizcoreError, match="no layer called 'nope'"):
        flat_copy(nested_model, ("nope",))
