import numpy as np
import pytest
import tensorflow as tf

from vizcore.optimize import CHANNELS, CentreNeuron, ChannelMean, Context, Diversity, L2, LayerMean, TotalVariation
from vizcore.optimize.objectives import Scaled, Sum


def _context(features, images=None, channels=None):
    images = tf.zeros((features.shape[0], 8, 8, 3)) if images is None else images
    targets = {} if channels is None else {CHANNELS: tf.constant(channels, tf.int32)}
    return Context({"layer": tf.constant(features, tf.float32)}, images, targets)


def test_each_image_scores_its_own_channel():
    features = np.zeros((2, 4, 4, 3), np.float32)
    features[0, :, :, 2] = 5.0
    features[1, 1, 1, 0] = 16.0
    scores = ChannelMean("layer")(_context(features, channels=[2, 0])).numpy()
    np.testing.assert_allclose(scores, [5.0, 1.0])


def test_neuron_reads_the_centre_unit_only():
    features = np.zeros((1, 5, 5, 2), np.float32)
    features[0, 2, 2, 1] = 3.0
    features[0, 0, 0, 1] = 100.0
    assert CentreNeuron("layer")(_context(features, channels=[1])).numpy()[0] == pytest.approx(3.0)


def test_objectives_add_and_scale_like_numbers():
    features = np.ones((2, 3, 3, 2), np.float32)
    context = _context(features, channels=[0, 1])
    combined = 2 * ChannelMean("layer") - LayerMean("layer") + (-TotalVariation())
    np.testing.assert_allclose(combined(context).numpy(), [1.0, 1.0])
    assert combined.layers == ("layer",)
    assert isinstance(combined, Sum) and ChannelMean("layer") * 3 == Scaled(ChannelMean("layer"), 3.0)
    assert hash(combined) == hash(2 * ChannelMean("layer") - LayerMean("layer") + (-TotalVariation()))


def test_smoothness_terms_see_noise():
    flat = tf.fill((1, 16, 16, 3), 0.5)
    noisy = tf.constant(np.random.default_rng(0).uniform(size=(1, 16, 16, 3)), tf.float32)
    features = np.zeros((1, 2, 2, 1), np.float32)
    assert TotalVariation()(_context(features, flat)).numpy()[0] == 0
    assert TotalVariation()(_context(features, noisy)).numpy()[0] > 0.3
    assert L2()(_context(features, flat)).numpy()[0] == 0
    assert L2()(_context(features, noisy)).numpy()[0] > 0.05


def test_diversity_penalises_alike_images_within_a_group_only():
    rng = np.random.default_rng(0)
    pattern = rng.uniform(size=(1, 6, 6, 4)).astype(np.float32)
    other = rng.uniform(size=(1, 6, 6, 4)).astype(np.float32) ** 6
    alike = np.concatenate([pattern, pattern, pattern, other])
    scores = Diversity("layer", 2)(_context(alike)).numpy()
    assert scores[0] == pytest.approx(-1.0, abs=1e-5) and scores[1] == pytest.approx(-1.0, abs=1e-5)
    assert scores[2] > scores[0] + 0.05  # its partner (other) is unlike it


def test_class_logit_scores_each_images_own_class():
    from vizcore.optimize import CLASSES, ClassLogit

    logits = tf.constant([[1.0, 5.0, -2.0], [3.0, 0.5, 7.0]])
    context = Context({"score": logits}, tf.zeros((2, 4, 4, 3)), {CLASSES: tf.constant([2, 1], tf.int32)})
    np.testing.assert_allclose(ClassLogit()(context).numpy(), [-2.0, 0.5])
    assert ClassLogit().layers == ("score",)


def test_term_per_image_keeps_each_images_own_term():
    from vizcore.optimize import TERM, TermPerImage

    features = np.zeros((2, 2, 2, 1), np.float32)
    features[1] = 4.0
    context = Context({"layer": tf.constant(features)}, tf.fill((2, 4, 4, 3), 0.75), {TERM: tf.constant([1, 0], tf.int32)})
    chosen = TermPerImage((LayerMean("layer"), L2()))(context).numpy()
    np.testing.assert_allclose(chosen, [0.0625, 4.0])  # image 0: its L2 (0.25 squared); image 1: its layer mean
    assert TermPerImage((LayerMean("layer"), L2())).layers == ("layer",)
