import numpy as np
import pytest
import tensorflow as tf

from vizcore.optimize import FourierImage, PixelImage
from vizcore.optimize.parameterization import _frequency_magnitude, spectrum_frequencies


@pytest.mark.parametrize("parameterization", [FourierImage(), PixelImage()])
@pytest.mark.parametrize("size", [32, 63])
def test_images_are_rgb_in_range_and_start_near_grey(parameterization, size):
    parameters = parameterization.initial(4, size, np.random.default_rng(0))
    images = parameterization.to_rgb(tf.constant(parameters)).numpy()
    assert images.shape == (4, size, size, 3)
    assert images.min() >= 0 and images.max() <= 1
    assert abs(images.mean() - 0.5) < 0.05 and images.std() > 0


@pytest.mark.parametrize("size", [16, 33, 128])
def test_in_graph_frequencies_match_numpy(size):
    np.testing.assert_allclose(_frequency_magnitude(tf.constant(size)).numpy(), spectrum_frequencies(size, size), atol=1e-6)


def test_fourier_steps_change_low_frequencies_more_than_pixel_steps():
    """An Adam-like (sign) step puts most of its change into coarse patterns, not pixel noise."""
    target = np.random.default_rng(1).normal(size=(1, 64, 64, 3)).astype(np.float32)
    high = spectrum_frequencies(64, 64) > 0.25  # the upper half of the frequency range

    def high_frequency_share(parameterization):
        parameters = tf.Variable(parameterization.initial(1, 64, np.random.default_rng(0)))
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(parameterization.to_rgb(parameters) * target)
        step = parameterization.to_rgb(parameters + 0.01 * tf.sign(tape.gradient(total, parameters))).numpy()
        change = (step - parameterization.to_rgb(parameters).numpy())[0].mean(axis=2)
        power = np.abs(np.fft.rfft2(change)) ** 2
        return power[high].sum() / power.sum()

    assert high_frequency_share(PixelImage()) > 0.5
    assert high_frequency_share(FourierImage()) < 0.5 * high_frequency_share(PixelImage())


def test_same_seed_same_start():
    first = FourierImage().initial(2, 32, np.random.default_rng(5))
    np.testing.assert_array_equal(first, FourierImage().initial(2, 32, np.random.default_rng(5)))
    assert not np.array_equal(first, FourierImage().initial(2, 32, np.random.default_rng(6)))


@pytest.mark.parametrize("parameterization", [FourierImage(), FourierImage(1.25), PixelImage()])
@pytest.mark.parametrize("size", [32, 31])
def test_tiled_parameters_render_the_image_repeated(parameterization, size):
    parameters = 30 * parameterization.initial(2, size, np.random.default_rng(0))  # far from grey: a real picture
    small = parameterization.to_rgb(tf.constant(parameters)).numpy()
    large = parameterization.to_rgb(tf.constant(parameterization.tiled(parameters, 2))).numpy()
    assert large.shape == (2, 2 * size, 2 * size, 3) and small.std() > 0.05
    np.testing.assert_allclose(large, np.tile(small, (1, 2, 2, 1)), atol=1e-5)
