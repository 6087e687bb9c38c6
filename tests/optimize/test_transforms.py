import numpy as np
import tensorflow as tf

from vizcore.optimize import Jitter, Rotate, Scale, apply_transforms


def _pattern(size=32, batch=3):
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.stack([rows / size, columns / size, np.full_like(rows, 0.5)], axis=-1)
    return tf.constant(np.repeat(image[None], batch, axis=0))


def test_no_transforms_is_the_identity():
    images = _pattern()
    assert apply_transforms(images, (), tf.constant([1, 2])) is images


def test_jitter_shifts_whole_pixels_and_keeps_the_size():
    images = _pattern()
    moved = apply_transforms(images, (Jitter(3.0),), tf.constant([0, 5])).numpy()
    assert moved.shape == images.shape
    shifts = set()
    for original, shifted in zip(images.numpy(), moved):
        inner = shifted[8:24, 8:24]
        found = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                 if np.allclose(inner, original[8 + dy : 24 + dy, 8 + dx : 24 + dx], atol=1e-5)]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 1  # each image of the batch draws its own shift


def test_same_seed_same_transform_other_seed_another():
    images = _pattern()
    transforms = (Jitter(4.0), Scale(0.8, 1.2), Rotate(20.0))
    first = apply_transforms(images, transforms, tf.constant([7, 0])).numpy()
    again = apply_transforms(images, transforms, tf.constant([7, 0])).numpy()
    other = apply_transforms(images, transforms, tf.constant([7, 1])).numpy()
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0.05


def test_rotation_keeps_the_centre_and_moves_the_corners():
    images = _pattern(33, 1)
    turned = apply_transforms(images, (Rotate(30.0),), tf.constant([3, 3])).numpy()[0]
    np.testing.assert_allclose(turned[16, 16], images.numpy()[0, 16, 16], atol=1e-5)
    assert np.abs(turned[2, 2] - images.numpy()[0, 2, 2]).max() > 0.01


def test_gradients_flow_through_the_transforms():
    images = tf.Variable(_pattern())
    with tf.GradientTape() as tape:
        moved = apply_transforms(images, (Jitter(2.0), Scale(0.9, 1.1), Rotate(10.0)), tf.constant([0, 0]))
        total = tf.reduce_sum(moved[:, :, :, 0])
    gradient = tape.gradient(total, images).numpy()
    assert np.abs(gradient[..., 0]).sum() > 0 and np.abs(gradient[..., 1:]).sum() == 0
