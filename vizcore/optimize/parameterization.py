"""How an optimised image is represented: the numbers the optimiser changes, and the RGB image they make.

Each parameterisation is a small frozen description (hashable, so one traced step serves every
run with the same settings) with two halves: ``initial`` makes the starting parameters as a
numpy array, ``to_rgb`` turns parameters into a B x H x W x 3 image with values in 0..1, in
TensorFlow so gradients flow back to the parameters. ``tiled`` turns parameters into those of
the same image repeated in a grid, so a run can start on one small tile (cheap steps) and go on
at full size from exactly where it was (progressive resolution, see ``loop.Stage``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

# Square root of ImageNet's colour covariance (Lucid's measured values): mixing three independent
# channels through it gives natural colour statistics instead of saturated red/green/blue noise.
COLOR_CORRELATION_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOR_MIXING = (COLOR_CORRELATION_SQRT / np.linalg.norm(COLOR_CORRELATION_SQRT, axis=0).max()).T
INITIAL_SPREAD = 0.01  # start near uniform grey: sigmoid(small noise)


@dataclass(frozen=True)
class PixelImage:
    """One free number per pixel and colour, squashed to 0..1 by a sigmoid."""

    name = "pixel"

    def initial(self, batch: int, size: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, INITIAL_SPREAD, (batch, size, size, 3)).astype(np.float32)

    def to_rgb(self, parameters: tf.Tensor) -> tf.Tensor:
        return tf.sigmoid(parameters)

    def tiled(self, parameters: np.ndarray, times: int) -> np.ndarray:
        """Parameters of the image repeated ``times`` x ``times``."""
        return np.tile(np.asarray(parameters, np.float32), (1, times, times, 1))


def pixel_parameters(images: np.ndarray) -> np.ndarray:
    """PixelImage parameters that render exactly ``images`` (B x H x W x 3, values 0..1): the inverse sigmoid."""
    clipped = np.clip(np.asarray(images, np.float32), 1e-3, 1.0 - 1e-3)
    return np.log(clipped / (1.0 - clipped)).astype(np.float32)


def spectrum_frequencies(height: int, width: int) -> np.ndarray:
    """Spatial frequency magnitude of every coefficient of a real 2-D FFT of an H x W image."""
    rows = np.fft.fftfreq(height)[:, None]
    columns = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(rows * rows + columns * columns)


@dataclass(frozen=True)
class FourierImage:
    """Colour-decorrelated Fourier coefficients, scaled by 1 / frequency^decay.

    Every frequency then gets about the same step size, so the optimiser is not drawn into the
    high-frequency noise that plain pixels produce: patterns come out smooth and recognisable.
    """

    decay: float = 1.0
    name = "fourier"

    def initial(self, batch: int, size: int, rng: np.random.Generator) -> np.ndarray:
        columns = size // 2 + 1
        return rng.normal(0.0, INITIAL_SPREAD, (2, batch, 3, size, columns)).astype(np.float32)

    def to_rgb(self, parameters: tf.Tensor) -> tf.Tensor:
        size = tf.shape(parameters)[3]
        frequencies = _frequency_magnitude(size)
        scale = tf.cast(size, tf.float32) / tf.maximum(frequencies, 1.0 / tf.cast(size, tf.float32)) ** self.decay
        real, imaginary = tf.unstack(parameters)  # unstack, not slicing: its gradient is a cheap stack
        spectrum = tf.complex(real * scale, imaginary * scale)
        channels_first = tf.signal.irfft2d(spectrum, fft_length=tf.stack([size, size]))
        independent = tf.transpose(channels_first, (0, 2, 3, 1)) / 4.0
        return tf.sigmoid(tf.einsum("bhwc,cd->bhwd", independent, _COLOR_MIXING))

    def tiled(self, parameters: np.ndarray, times: int) -> np.ndarray:
        """Parameters of the image repeated ``times`` x ``times``: 2 x B x 3 x S x (S/2 + 1) for S = ``times`` x size.

        A periodic image's spectrum lives on every ``times``-th frequency, with the same
        coefficients times ``times`` squared (the FFT sums over ``times`` squared copies); the
        parameters are those divided by the larger image's frequency scale (``times`` x the
        small one's, except at the constant term). Every other coefficient starts at 0.
        """
        parameters = np.asarray(parameters, np.float32)
        size = parameters.shape[3]
        large = np.zeros((*parameters.shape[:3], size * times, size * times // 2 + 1), np.float32)
        factors = np.full((size, size // 2 + 1), float(times), np.float32)
        factors[0, 0] = times ** (1.0 - self.decay)
        large[..., ::times, ::times] = parameters * factors
        return large


def _frequency_magnitude(size: tf.Tensor) -> tf.Tensor:
    """``spectrum_frequencies(size, size)`` computed in-graph, so one trace serves every image size."""
    size_f = tf.cast(size, tf.float32)
    indices = tf.range(size, dtype=tf.float32)
    rows = tf.where(indices < (size_f + 1.0) // 2.0, indices, indices - size_f) / size_f
    columns = tf.range(size // 2 + 1, dtype=tf.float32) / size_f
    return tf.sqrt(rows[:, None] ** 2 + columns[None, :] ** 2)


PARAMETERIZATIONS = {"fourier": FourierImage(), "pixel": PixelImage()}
