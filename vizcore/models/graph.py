"""A flat, private copy of a model for attribution: nested models inlined, scores before softmax.

Transfer-learning models are usually a keras.applications base inside a Sequential or Functional
model. Asking Keras for an inner layer's output next to the outer model's output fails with
"Graph disconnected", because the inner layer lives in the base model's own graph. vizcore
instead rebuilds the whole computation as one graph on a new input, calling fresh copies of
every layer (weights copied), nested models inlined layer by layer. The copy can then expose any
layer, anywhere, and be changed freely (a linear last layer, guided ReLUs) while the shared
model stays exactly as it was.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import tree

from vizcore.errors import VizcoreError

SCORE = "score"  # output key: the class scores before softmax (logits)
_SOFTMAX_NAMES = ("softmax",)


_GUIDED_GRADIENT = "VizcoreGuidedRelu"


@tf.RegisterGradient(_GUIDED_GRADIENT)
def _guided_relu_gradient(operation, upstream):
    """A ReLU's gradient that passes only where the ReLU was active and the gradient itself is positive."""
    active = tf.cast(operation.outputs[0] > 0, upstream.dtype)
    return upstream * active * tf.cast(upstream > 0, upstream.dtype)


class GuidedReLU(keras.layers.Layer):
    """A ReLU (capped at ``max_value`` if given) with guided backpropagation's gradient.

    Backward, a gradient passes only where the ReLU was active and the gradient itself is
    positive (Springenberg et al. 2015), so the map keeps what excites the class. In a traced
    function the gradient is the one registered above, for every model: ``tf.custom_gradient``
    would register a new one per trace that TensorFlow keeps for good, and with it the traced
    graph and the copy's weights. Run eagerly, ``tf.custom_gradient`` keeps nothing.
    """

    def __init__(self, max_value=None, **kwargs):
        super().__init__(**kwargs)
        self.max_value = max_value

    def call(self, inputs):
        if tf.executing_eagerly():
            return self._eager_guided(inputs)
        with tf.compat.v1.get_default_graph().gradient_override_map({"Relu": _GUIDED_GRADIENT}):
            outputs = tf.nn.relu(inputs)
        return outputs if self.max_value is None else tf.minimum(outputs, self.max_value)

    def _eager_guided(self, inputs):
        cap = self.max_value

        @tf.custom_gradient
        def guided(x):
            active = x > 0 if cap is None else tf.logical_and(x > 0, x < cap)
            y = tf.nn.relu(x) if cap is None else tf.clip_by_value(x, 0.0, cap)

            def backward(upstream):
                return upstream * tf.cast(active, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)

            return y, backward

        return guided(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def _is_relu(activation) -> bool:
    return getattr(activation, "__name__", "") in ("relu", "relu6")


def _relu_cap(layer) -> float | None:
    if isinstance(layer, keras.layers.ReLU):
        return None if layer.max_value is None else float(layer.max_value)
    return 6.0 if getattr(layer.activation, "__name__", "") == "relu6" else None


def config_to_refill(layer) -> dict:
    """``layer.get_config()`` with its weight initializers set to zeros, for a copy whose weights are set next.

    Drawing random initial values that are overwritten at once was about a third of the time to copy a model.
    """
    config = layer.get_config()
    for key, value in config.items():
        if key.endswith("_initializer") and value is not None:
            config[key] = "zeros"
    return config


def _is_softmax(operation) -> bool:
    if isinstance(operation, keras.layers.Softmax):
        return True
    return isinstance(operation, (keras.layers.Activation, keras.layers.Dense)) and getattr(
        operation.activation, "__name__", ""
    ) in _SOFTMAX_NAMES


class _FlatBuilder:
    def __init__(self, guided: bool):
        self.guided = guided
        self.copies: dict[int, tuple] = {}  # id(original layer) -> (original, copy)
        self.tensors: dict[str, object] = {}  # layer name -> its output in the flat graph
        self.pre_softmax = None

    def copy_of(self, layer, linear: bool):
        if not isinstance(layer, keras.layers.Layer):
            return layer  # a stateless operation (slicing, arithmetic): reused as it is
        if id(layer) not in self.copies:
            config = config_to_refill(layer)
            if linear and "activation" in config:
                config["activation"] = "linear"
            if self.guided and _is_relu(getattr(layer, "activation", None)) and not isinstance(layer, keras.layers.ReLU):
                config["activation"] = "linear"  # the guided ReLU is applied after the copy
            self.copies[id(layer)] = (layer, layer.__class__.from_config(config))
        return self.copies[id(layer)][1]

    def call(self, operation, args, kwargs, is_last: bool):
        if isinstance(operation, keras.Sequential):
            (x,) = tree.flatten(args)
            for position, layer in enumerate(operation.layers):
                x = self.call(layer, (x,), {}, is_last and position == len(operation.layers) - 1)
            return x
        if isinstance(operation, keras.Model):
            return self.inline(operation, tree.flatten(args), is_last)
        if is_last and _is_softmax(operation):
            if isinstance(operation, keras.layers.Dense):
                outputs = self.copy_of(operation, linear=True)(*args, **kwargs)
                self.pre_softmax = outputs
                return keras.layers.Softmax(name=f"{operation.name}_softmax")(outputs)
            (self.pre_softmax,) = tree.flatten(args)
        if self.guided and isinstance(operation, keras.layers.ReLU):
            outputs = GuidedReLU(_relu_cap(operation), name=operation.name)(*args)
        else:
            outputs = self.copy_of(operation, linear=False)(*args, **kwargs)
            if self.guided and _is_relu(getattr(operation, "activation", None)):
                outputs = GuidedReLU(_relu_cap(operation), name=f"{operation.name}_guided")(outputs)
        if isinstance(operation, keras.layers.Layer):
            self.tensors[operation.name] = outputs
        return outputs

    def inline(self, functional: keras.Model, inputs: list, is_last: bool = True):
        tensor_dict = {id(x): y for x, y in zip(functional.inputs, inputs)}
        final_nodes = {id(x._keras_history.operation) for x in functional.outputs}
        for depth in sorted(functional._nodes_by_depth, reverse=True):
            for node in functional._nodes_by_depth[depth]:
                if not node.operation or node.is_input:
                    continue
                if any(id(x) not in tensor_dict for x in node.input_tensors):
                    continue
                args, kwargs = node.arguments.fill_in(tensor_dict)
                last = is_last and id(node.operation) in final_nodes
                outputs = self.call(node.operation, args, kwargs, last)
                for x, y in zip(node.outputs, tree.flatten(outputs)):
                    tensor_dict[id(x)] = y
        outputs = [tensor_dict[id(x)] for x in functional.outputs]
        return outputs[0] if len(outputs) == 1 else outputs


def flat_copy(model: keras.Model, layers: tuple[str, ...] = (), guided: bool = False) -> keras.Model:
    """A one-graph copy of ``model`` with outputs ``{"score": logits, layer: feature map, ...}``.

    ``layers`` may name layers inside nested models. ``guided`` swaps every ReLU for one with the
    guided-backpropagation gradient. The scores are the inputs of a final softmax when the model
    ends in one (a Softmax layer, or a Dense/Activation with softmax), else the model's output.
    """
    if len(model.inputs) != 1:
        raise VizcoreError("vizcore explains models with a single image input; this model has several inputs.")
    builder = _FlatBuilder(guided)
    new_input = keras.Input(model.inputs[0].shape[1:], name="image")
    if isinstance(model, keras.Sequential):
        output = builder.call(model, (new_input,), {}, True)
    else:
        output = builder.inline(model, [new_input])
    if isinstance(output, list):
        raise VizcoreError("vizcore explains models with one output; this model has several.")
    missing = [name for name in layers if name not in builder.tensors]
    if missing:
        raise VizcoreError(f"The model has no layer called {missing[0]!r}.")
    outputs = {SCORE: builder.pre_softmax if builder.pre_softmax is not None else output}
    outputs.update({name: builder.tensors[name] for name in layers})
    flat = keras.Model(new_input, outputs, name=f"{model.name}_flat")
    for original, copy in builder.copies.values():
        if original.weights:
            copy.set_weights(original.get_weights())
    return flat


def all_layers(model: keras.Model):
    """Every layer of ``model`` with nested models opened up, in graph order (models themselves left out)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)
        else:
            yield layer
