"""A faster inference copy of a model: each batch norm folded into the convolution before it.

In inference a batch norm is a per-channel multiply and add. Folded into the convolution's
kernel and bias it costs nothing, forward or backward; the optimisation loops run the network
forward and backward hundreds of times, and on a CPU these element-wise passes over every
feature map take a third of the step. The copy computes the same function (to float rounding),
has its own weights, and leaves the original model untouched.
"""

from __future__ import annotations

import keras
import numpy as np

from vizcore.models.graph import config_to_refill

_FOLDABLE = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


class _FoldedAway(keras.layers.Layer):
    """Stands where a folded batch norm was: passes its input through (and accepts BN's call arguments)."""

    def call(self, inputs, training=None, mask=None):
        return inputs


def _producer(tensor):
    return tensor._keras_history.operation


def _foldable_pairs(model: keras.Model, keep: set[str]) -> dict[str, str]:
    """batch-norm name -> convolution name, for every conv whose only consumer is a plain inference BN."""
    consumers: dict[str, int] = {}
    feeding: dict[str, str] = {}
    for operation in model.operations:  # layers and plain ops (slicing, arithmetic) alike
        for node in operation._inbound_nodes:
            for tensor in node.input_tensors:
                source = _producer(tensor).name
                consumers[source] = consumers.get(source, 0) + 1
                if isinstance(operation, keras.layers.BatchNormalization):
                    feeding[operation.name] = source
    pairs = {}
    for bn_name, conv_name in feeding.items():
        conv, bn = model.get_layer(conv_name), model.get_layer(bn_name)
        if (
            isinstance(conv, _FOLDABLE)
            and conv.activation in (None, keras.activations.linear)
            and consumers.get(conv_name) == 1
            and len(bn._inbound_nodes) == 1
            and bn.axis in (-1, [-1], 3, [3])
            and conv_name not in keep
        ):
            pairs[bn_name] = conv_name
    return pairs


def _folded_weights(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    gamma = np.asarray(bn.gamma) if bn.scale else 1.0
    beta = np.asarray(bn.beta) if bn.center else 0.0
    multiplier = gamma / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon)
    kernel = np.asarray(conv.kernel)
    bias = np.asarray(conv.bias) if conv.use_bias else 0.0
    if isinstance(conv, keras.layers.DepthwiseConv2D):
        folded_kernel = kernel * multiplier.reshape(kernel.shape[2], kernel.shape[3])
    else:
        folded_kernel = kernel * multiplier
    folded_bias = (bias - np.asarray(bn.moving_mean)) * multiplier + beta
    return folded_kernel.astype(np.float32), np.asarray(folded_bias, np.float32)


def folded_convolutions(model: keras.Model) -> frozenset[str]:
    """The convolutions ``folded_copy(model)`` merges a batch norm into: their own outputs change in the copy."""
    return frozenset(_foldable_pairs(model, set()).values())


def folded_copy(model: keras.Model, input_shape=None, keep: tuple[str, ...] = (), fold: bool = True) -> keras.Model:
    """A copy of functional ``model`` with foldable batch norms merged into their convolutions.

    ``input_shape`` (e.g. ``(None, None, 3)``) gives the copy a new input; ``keep`` names layers
    whose own output must stay exactly as it is (a convolution the caller reads); ``fold=False``
    folds nothing: an exact copy (with its own weights) that may take a new input shape.
    """
    pairs = _foldable_pairs(model, set(keep)) if fold else {}
    folded_convs = set(pairs.values())

    def clone_layer(layer):
        config = config_to_refill(layer)
        if layer.name in pairs:
            return _FoldedAway(name=layer.name)
        if layer.name in folded_convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    input_tensors = None
    if input_shape is not None:
        new_input = keras.Input(input_shape)
        input_tensors = [new_input] if isinstance(model.input, (list, tuple)) else new_input
    copy = keras.models.clone_model(model, input_tensors=input_tensors, clone_function=clone_layer)
    batch_norm_of = {conv: bn for bn, conv in pairs.items()}
    for layer in model.layers:
        if layer.name in pairs or not layer.weights:
            continue
        target = copy.get_layer(layer.name)
        if layer.name in batch_norm_of:
            target.set_weights(list(_folded_weights(layer, model.get_layer(batch_norm_of[layer.name]))))
        else:
            target.set_weights(layer.get_weights())
    return copy
