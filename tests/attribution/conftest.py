import cv2
import numpy as np
import pytest

# The chelsea crop the model sees (224 x 224) is mostly face: eyes at y 60-110, nose and mouth
# down to the chin at the bottom edge. Outside the box are the forehead, ears and side fur.
FACE_BOX = (20, 40, 215, 224)  # left, top, right, bottom in model-input pixels


def hottest_region(values: np.ndarray) -> tuple[int, int]:
    """Centre (x, y) of the 33 x 33 window with the highest mean value."""
    smoothed = cv2.blur(values.astype(np.float32), (33, 33))
    y, x = np.unravel_index(np.argmax(smoothed), smoothed.shape)
    return int(x), int(y)


def in_face(point) -> bool:
    left, top, right, bottom = FACE_BOX
    return left <= point[0] <= right and top <= point[1] <= bottom


def face_contrast(values: np.ndarray) -> float:
    """Mean map value inside the face box over the mean outside it."""
    left, top, right, bottom = FACE_BOX
    inside = np.zeros(values.shape, bool)
    inside[top:bottom, left:right] = True
    return float(values[inside].mean() / max(values[~inside].mean(), 1e-9))


@pytest.fixture(scope="session")
def nested_model():
    """The usual transfer-learning shape: a conv base inside a Sequential, built here with seeded weights."""
    import keras

    keras.utils.set_random_seed(0)
    base_input = keras.Input((48, 48, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="base_conv1")(base_input)
    x = keras.layers.BatchNormalization(name="base_bn")(x)
    x = keras.layers.ReLU(name="base_relu")(x)
    x = keras.layers.Conv2D(12, 3, strides=2, activation="relu", name="base_conv2")(x)
    base = keras.Model(base_input, x, name="base")
    return keras.Sequential(
        [keras.Input((48, 48, 3)), base, keras.layers.GlobalAveragePooling2D(name="pool"),
         keras.layers.Dense(3, activation="softmax", name="head")],
        name="transfer",
    )


@pytest.fixture(scope="session")
def nested_loaded(nested_model):
    from vizcore.models import get_preprocessing
    from vizcore.models.spec import LoadedModel, ModelSpec, Presets

    spec = ModelSpec("nested", "Nested", lambda: nested_model, 48, get_preprocessing("unit"), lambda: ("a", "b", "c"),
                     Presets(("base_conv2",), "not_a_layer", {}, (), "base_conv2"))
    return LoadedModel(spec, nested_model)
