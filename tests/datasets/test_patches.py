"""Receptive fields from the layer stack, checked against gradients, and patch boxes inside the original image."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dataset_photos import LAYER
from vizcore.datasets.patches import box_in_model, patch_grid, receptive_field, top_patches
from vizcore.errors import VizcoreError
from vizcore.images import decode_image
from vizcore.models import get_preprocessing
from vizcore.models.spec import LoadedModel, ModelSpec, Presets


def linear_model():
    """Convolutions and pooling with no non-linearity: a unit's gradient is non-zero over its whole receptive field."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((40, 40, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1",
                            kernel_initializer=keras.initializers.RandomUniform(0.1, 1.0))(inputs)
    x = keras.layers.Conv2D(4, 5, strides=2, padding="same", name="conv2",
                            kernel_initializer=keras.initializers.RandomUniform(0.1, 1.0))(x)
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="valid", dilation_rate=1, name="conv3",
                            kernel_initializer=keras.initializers.RandomUniform(0.1, 1.0))(x)
    outputs = keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling2D(name="gap")(x))
    model = keras.Model(inputs, outputs)
    spec = ModelSpec("linear", "Linear", lambda: model, 40, get_preprocessing("none"), lambda: ("a", "b"),
                     Presets(("conv3",), "conv3", {}, (), "conv3"))
    return LoadedModel(spec, model)


@pytest.mark.parametrize("layer", ["conv1", "conv2", "pool", "conv3"])
def test_the_field_is_where_the_gradient_is(layer):
    loaded = linear_model()
    field = receptive_field(loaded, layer)
    extractor = keras.Model(loaded.keras_model.inputs, loaded.keras_model.get_layer(layer).output)
    height, width = extractor.output.shape[1:3]
    for y, x in ((0, 0), (height // 2, width // 2), (height - 1, width - 1)):
        image = tf.ones((1, 40, 40, 3))
        with tf.GradientTape() as tape:
            tape.watch(image)
            unit = extractor(image)[0, y, x, 0]
        support = np.argwhere(np.abs(tape.gradient(unit, image).numpy()[0]).sum(axis=-1) > 0)
        (top, left), (bottom, right) = support.min(axis=0), support.max(axis=0) + 1
        assert [left, top, right, bottom] == box_in_model(field, y, x, 40).astype(int).tolist(), (layer, y, x)


def test_patches_are_inside_their_images_and_highest_first(built_index, dataset):
    out, _ = built_index
    patches = top_patches(out, LAYER, 5, k=3)
    assert len(patches) == 3
    assert [patch.activation for patch in patches] == sorted((patch.activation for patch in patches), reverse=True)
    for patch in patches:
        height, width = decode_image((dataset / patch.path).read_bytes()).shape[:2]
        x0, y0, x1, y1 = patch.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    grid = patch_grid(out, patches, side=32)
    assert grid.dtype == np.uint8 and grid.shape[2] == 3 and grid.std() > 0
    with pytest.raises(VizcoreError, match="no layer called"):
        top_patches(out, "head_relu", 0)
    with pytest.raises(VizcoreError, match="channels 0 to 79"):
        top_patches(out, LAYER, 80)
