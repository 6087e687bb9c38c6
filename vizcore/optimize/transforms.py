"""Random robustness transforms applied to the image before every step.

Without them activation maximisation finds adversarial high-frequency noise; with small random
shifts, scalings and rotations only patterns that excite the unit wherever they land survive.
Each transform draws one 3 x 3 matrix per image (mapping output pixel positions to input
positions); the list is composed into one matrix and applied in a single resampling, so three
transforms cost one bilinear pass and blur the image once, and the output keeps its size.
Randomness is stateless, drawn from (seed, step): the same seed replays the same transforms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf


def _uniform(batch: tf.Tensor, seed: tf.Tensor, salt: int, low: float, high: float) -> tf.Tensor:
    return tf.random.stateless_uniform([batch], seed=seed + [0, salt], minval=low, maxval=high)


@dataclass(frozen=True)
class Jitter:
    """Shift by up to ``pixels`` in each direction."""

    pixels: float = 8.0

    def matrices(self, batch, size, seed) -> tf.Tensor:
        dx = tf.round(_uniform(batch, seed, 1, -self.pixels, self.pixels))
        dy = tf.round(_uniform(batch, seed, 2, -self.pixels, self.pixels))
        ones, zeros = tf.ones_like(dx), tf.zeros_like(dx)
        return tf.stack([ones, zeros, dx, zeros, ones, dy, zeros, zeros, ones], axis=1)


@dataclass(frozen=True)
class Scale:
    """Zoom by a factor drawn from [low, high] about the centre."""

    low: float = 0.9
    high: float = 1.1

    def matrices(self, batch, size, seed) -> tf.Tensor:
        inverse = 1.0 / _uniform(batch, seed, 3, self.low, self.high)
        return _about_centre(inverse, tf.zeros_like(inverse), size)


@dataclass(frozen=True)
class Rotate:
    """Turn by up to ``degrees`` either way about the centre."""

    degrees: float = 10.0

    def matrices(self, batch, size, seed) -> tf.Tensor:
        angle = _uniform(batch, seed, 4, -self.degrees, self.degrees) * (math.pi / 180.0)
        return _about_centre(tf.cos(angle), tf.sin(angle), size)


def _about_centre(cos_scaled: tf.Tensor, sin_scaled: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Matrices for [[c, -s], [s, c]] applied about the image centre."""
    centre = (tf.cast(size, tf.float32) - 1.0) / 2.0
    ones, zeros = tf.ones_like(cos_scaled), tf.zeros_like(cos_scaled)
    shift_x = centre - cos_scaled * centre + sin_scaled * centre
    shift_y = centre - sin_scaled * centre - cos_scaled * centre
    return tf.stack([cos_scaled, -sin_scaled, shift_x, sin_scaled, cos_scaled, shift_y, zeros, zeros, ones], axis=1)


def apply_transforms(images: tf.Tensor, transforms: tuple, seed: tf.Tensor) -> tf.Tensor:
    """``images`` (B x H x W x C, square) moved by the composed random ``transforms``, same shape.

    ``seed`` is an int32 pair; edges are filled by reflection so no flat border appears.
    """
    if not transforms:
        return images
    batch, size = tf.shape(images)[0], tf.shape(images)[1]
    composed = tf.eye(3, batch_shape=[batch])
    for transform in transforms:
        composed = tf.matmul(composed, tf.reshape(transform.matrices(batch, size, seed), (-1, 3, 3)))
    flat = tf.reshape(composed, (-1, 9))[:, :8] / composed[:, 2:3, 2]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=flat,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


STANDARD_TRANSFORMS = (Jitter(8.0), Scale(0.9, 1.1), Rotate(10.0), Jitter(4.0))
