"""Shared fixtures: the embedded model (converted once per run) and the bundled sample photos."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Converted weights go to a throwaway folder unless the caller (CI) names a persistent one.
os.environ.setdefault("VIZCORE_CACHE_DIR", tempfile.mkdtemp(prefix="vizcore-test-cache-"))

import pytest  # noqa: E402

import vizcore  # noqa: E402


@pytest.fixture(scope="session")
def embedded_model():
    return vizcore.load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def chelsea():
    return vizcore.load_sample("chelsea")


@pytest.fixture(scope="session")
def coffee():
    return vizcore.load_sample("coffee")


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
