"""What an optimised image should do: objectives that add and scale like numbers.

An objective maps a ``Context`` (the layer outputs for the batch, the RGB images, and the run's
target tensors) to one score per image, shape (B,); the render loop climbs the sum. Objectives
are frozen dataclasses, so ``channel - 0.1 * total_variation()`` is an objective too and one
traced step serves every run built the same way. Values that change from run to run (which
channel each image maximises, a style's Gram matrices) travel as tensors in ``Context.targets``,
named by the objective, so choosing other channels never retraces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vizcore.models.graph import SCORE


@dataclass(frozen=True)
class Context:
    features: dict  # layer name -> B x H x W x C tensor
    images: tf.Tensor  # B x H x W x 3, RGB in 0..1, before the robustness transforms
    targets: dict  # name -> tensor, the per-run values objectives refer to


class Objective:
    """Base class: subclasses define ``layers`` and ``__call__(context) -> (B,) scores``."""

    layers: tuple[str, ...] = ()

    def __call__(self, context: Context) -> tf.Tensor:
        raise NotImplementedError

    def __add__(self, other: Objective) -> Objective:
        return Sum((self, other))

    def __sub__(self, other: Objective) -> Objective:
        return Sum((self, Scaled(other, -1.0)))

    def __mul__(self, weight: float) -> Objective:
        return Scaled(self, float(weight))

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return Scaled(self, -1.0)


@dataclass(frozen=True)
class Sum(Objective):
    terms: tuple[Objective, ...]

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for term in self.terms for name in term.layers))

    def __call__(self, context: Context) -> tf.Tensor:
        return tf.add_n([term(context) for term in self.terms])


@dataclass(frozen=True)
class Scaled(Objective):
    term: Objective
    weight: float

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def __call__(self, context: Context) -> tf.Tensor:
        return self.weight * self.term(context)


CHANNELS = "channels"  # target: int32 (B,), the channel each image of the batch maximises


@dataclass(frozen=True)
class ChannelMean(Objective):
    """Image b's score: the mean over positions of channel ``targets["channels"][b]`` of ``layer``."""

    layer: str

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, context: Context) -> tf.Tensor:
        maps = tf.gather(context.features[self.layer], context.targets[CHANNELS], axis=3, batch_dims=1)
        return tf.reduce_mean(maps, axis=(1, 2))


@dataclass(frozen=True)
class CentreNeuron(Objective):
    """Image b's score: the single unit at the centre of its channel, the neuron a filter is centred on."""

    layer: str

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, context: Context) -> tf.Tensor:
        features = context.features[self.layer]
        centre = features[:, tf.shape(features)[1] // 2, tf.shape(features)[2] // 2, :]
        return tf.gather(centre, context.targets[CHANNELS], axis=1, batch_dims=1)


CLASSES = "classes"  # target: int32 (B,), the class each image of the batch maximises


@dataclass(frozen=True)
class ClassLogit(Objective):
    """Image b's score: the model's logit (score before the softmax) of class ``targets["classes"][b]``.

    The logit, not the probability: raising a probability can also be done by lowering every
    other class, which makes no picture of this one (Simonyan et al. 2013).
    """

    layers = (SCORE,)  # the model's class scores before the softmax, B x classes (see vizcore.models.derived)

    def __call__(self, context: Context) -> tf.Tensor:
        return tf.gather(context.features[SCORE], context.targets[CLASSES], axis=1, batch_dims=1)


TERM = "term"  # target: int32 (B,), which of a TermPerImage's terms scores each image


@dataclass(frozen=True)
class TermPerImage(Objective):
    """Image b's score: ``terms[targets["term"][b]]`` alone, so one batch can pursue several goals side by side.

    Every term is computed for the whole batch (the network runs to the deepest layer any term
    reads anyway) and each image keeps its own.
    """

    terms: tuple[Objective, ...]

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for term in self.terms for name in term.layers))

    def __call__(self, context: Context) -> tf.Tensor:
        every = tf.stack([term(context) for term in self.terms], axis=1)  # B x terms
        return tf.gather(every, context.targets[TERM], axis=1, batch_dims=1)


@dataclass(frozen=True)
class LayerMean(Objective):
    """The mean activation of a whole layer, per image (DeepDream's quantity)."""

    layer: str

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, context: Context) -> tf.Tensor:
        return tf.reduce_mean(context.features[self.layer], axis=(1, 2, 3))


def gram_matrices(features: tf.Tensor) -> tf.Tensor:
    """B x C x C channel co-activations, averaged over the H x W positions."""
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)
    return tf.einsum("bhwc,bhwd->bcd", features, features) / positions


@dataclass(frozen=True)
class Diversity(Objective):
    """Minus how alike the images of each group are in style (cosine similarity of Gram matrices).

    The batch is split into consecutive groups of ``group_size`` images that share a channel;
    adding this term pushes the images of a group towards different ways of exciting it.
    """

    layer: str
    group_size: int

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, context: Context) -> tf.Tensor:
        grams = gram_matrices(context.features[self.layer])
        flat = tf.math.l2_normalize(tf.reshape(grams, (-1, self.group_size, grams.shape[-1] ** 2)), axis=2)
        similarity = tf.matmul(flat, flat, transpose_b=True)  # groups x k x k
        others = tf.reduce_sum(similarity, axis=2) - tf.linalg.diag_part(similarity)
        return -tf.reshape(others, (-1,)) / max(self.group_size - 1, 1)


# Neighbour differences (next pixel minus this one) as 2-tap depthwise convolutions over RGB: the
# same numbers as slicing ``x[:, 1:] - x[:, :-1]``, but the gradient is a convolution too, which on a
# CPU costs a fraction of the strided-slice gradients that slicing produces.
_DOWN_DIFFERENCE = np.tile(np.array([-1.0, 1.0], np.float32).reshape(2, 1, 1, 1), (1, 1, 3, 1))
_ACROSS_DIFFERENCE = np.tile(np.array([-1.0, 1.0], np.float32).reshape(1, 2, 1, 1), (1, 1, 3, 1))


def _neighbour_differences(images: tf.Tensor, kernel: np.ndarray) -> tf.Tensor:
    return tf.nn.depthwise_conv2d(images, tf.constant(kernel), strides=(1, 1, 1, 1), padding="VALID")


@dataclass(frozen=True)
class TotalVariation(Objective):
    """Mean absolute difference between neighbouring pixels (0..1 units): subtract it for smoother images."""

    def __call__(self, context: Context) -> tf.Tensor:
        images = context.images
        down = tf.reduce_mean(tf.abs(_neighbour_differences(images, _DOWN_DIFFERENCE)), axis=(1, 2, 3))
        across = tf.reduce_mean(tf.abs(_neighbour_differences(images, _ACROSS_DIFFERENCE)), axis=(1, 2, 3))
        return down + across


@dataclass(frozen=True)
class L2(Objective):
    """Mean squared distance of the pixels from mid-grey: subtract it to keep colours from saturating."""

    def __call__(self, context: Context) -> tf.Tensor:
        return tf.reduce_mean(tf.square(context.images - 0.5), axis=(1, 2, 3))


def gram_target(layer: str) -> str:
    return f"gram:{layer}"


def feature_target(layer: str) -> str:
    return f"features:{layer}"


@dataclass(frozen=True)
class GramDistance(Objective):
    """How far each image's Gram matrix on ``layer`` is from ``targets["gram:<layer>"]`` (C x C).

    Mean squared difference over the target's mean square, so every layer and model counts on the
    same scale (1.0 is as far as an all-zero Gram). Subtract it to pull an image towards a style.
    """

    layer: str

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, context: Context) -> tf.Tensor:
        target = context.targets[gram_target(self.layer)]
        grams = gram_matrices(context.features[self.layer])
        return tf.reduce_mean(tf.square(grams - target), axis=(1, 2)) / (tf.reduce_mean(tf.square(target)) + 1e-8)


@dataclass(frozen=True)
class FeatureDistance(Objective):
    """How far each image's ``layer`` features are from ``targets["features:<layer>"]`` (H x W x C), scale-free."""

    layer: str

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, context: Context) -> tf.Tensor:
        target = context.targets[feature_target(self.layer)]
        features = context.features[self.layer]
        return tf.reduce_mean(tf.square(features - target), axis=(1, 2, 3)) / (tf.reduce_mean(tf.square(target)) + 1e-8)
