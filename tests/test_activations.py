import keras
import numpy as np
import pytest

from vizcore import activations
from vizcore.errors import VizcoreError
from vizcore.models import get_preprocessing, get_spec, zoo
from vizcore.models.spec import LoadedModel, ModelSpec, Presets
from vizcore.models.inference import model_input


def test_explorer_returns_exactly_the_layer_output(embedded_model, chelsea):
    model = embedded_model.keras_model
    for layer in ("stem_relu", "stage4_block3_add", "head_relu"):
        reference = keras.Model(model.input, model.get_layer(layer).output)
        expected = np.asarray(reference(model_input(embedded_model, chelsea)))[0]
        np.testing.assert_allclose(activations.layer_activations(embedded_model, chelsea, layer), expected, rtol=1e-5, atol=1e-4)


def test_presets_come_first_then_every_feature_map(embedded_model):
    layers = activations.explorer_layers(embedded_model)
    names = [info.name for info in layers]
    assert names[:6] == list(embedded_model.spec.presets.explorer_layers)
    assert len(names) == len(set(names)) and "logits" not in names and "input" not in names
    head = next(info for info in layers if info.name == "head_relu")
    assert (head.height, head.width, head.channels, head.block) == (7, 7, 1280, "head")


def _tiny_loaded_model():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(6, 3, strides=2, name="conv_b")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="probs")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    spec = ModelSpec("tiny", "Tiny", lambda: model, 32, get_preprocessing("unit"), lambda: ("a", "b"),
                     Presets(("conv_b",), "conv_b", {"conv_b": 1.0}, ("conv_a",), "conv_b"))
    return LoadedModel(spec, model)


def test_works_on_a_model_built_here():
    loaded = _tiny_loaded_model()
    pixels = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    assert [info.name for info in activations.explorer_layers(loaded)] == ["conv_b", "conv_a"]
    assert activations.layer_activations(loaded, pixels, "conv_b").shape == (14, 14, 6)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet50"])
def test_every_zoo_preset_layer_can_be_explored(name):
    spec = get_spec(name)
    loaded = LoadedModel(spec, zoo.ARCHITECTURES[name](weights=None))
    pixels = np.full((64, 80, 3), 128, np.uint8)
    for layer in spec.presets.explorer_layers:
        maps = activations.layer_activations(loaded, pixels, layer)
        assert maps.ndim == 3 and np.isfinite(maps).all()
    keras.backend.clear_session()


def test_unknown_or_flat_layers_are_clear_errors(embedded_model, chelsea):
    with pytest.raises(VizcoreError, match="no layer called 'nope'"):
        activations.layer_activations(embedded_model, chelsea, "nope")
    with pytest.raises(VizcoreError, match="no feature map"):
        activations.layer_activations(embedded_model, chelsea, "logits")


def test_statistics_order_and_normalisation():
    maps = np.zeros((2, 2, 3), np.float32)
    maps[..., 0] = [[0, 0], [0, 4]]  # mean 1, max 4, 75% zeros
    maps[..., 1] = 2.0  # mean 2, flat
    maps[..., 2] = [[1, 2], [3, 6]]  # mean 3
    statistics = activations.channel_statistics(maps)
    np.testing.assert_allclose(statistics.mean, [1, 2, 3])
    np.testing.assert_allclose(statistics.max, [4, 2, 6])
    np.testing.assert_allclose(statistics.zero_fraction, [0.75, 0, 0])
    assert list(activations.channel_order(maps, "mean")) == [2, 1, 0]
    assert list(activations.channel_order(maps, "index")) == [0, 1, 2]
    minmax = activations.normalise_channels(maps, "minmax")
    assert minmax[..., 2].min() == 0 and minmax[..., 2].max() == 1 and (minmax[..., 1] == 0).all()
    meanstd = activations.normalise_channels(maps, "meanstd")
    assert 0 <= meanstd.min() and meanstd.max() <= 1 and meanstd[1, 1, 2] > meanstd[0, 0, 2]
    assert [row["channel"] for row in activations.strongest_channels(maps, 2)] == [2, 1]
    with pytest.raises(VizcoreError):
        activations.normalise_channels(maps, "zscore")
