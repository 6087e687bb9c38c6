"""Uploaded models: hostile files are refused with one sentence before Keras reads them; good ones work everywhere."""

import json

import keras
import numpy as np
import pytest

import hostile_models
from hostile_models import CASES, MARKER, random_image
from vizcore import activations, attribution, dream, filters, predictions
from vizcore.errors import VizcoreError
from vizcore.models import UserModelUpload, load_model_file, load_user_model
from vizcore.models.graph import all_layers
from vizcore.models.inference import model_input
from vizcore.models.layers import feature_map_layers
from vizcore.models.user_model import check_config

# What each refusal must name, so a refusal for the wrong reason fails.
EXPECTED_REASON = {
    "lambda_keras": "Lambda layer",
    "nested_lambda_keras": "Lambda layer",
    "lambda_h5": "Lambda layer",
    "os_system_activation": "'os.system'",
    "os_system_class": "'os.system'",
    "builtins_eval_string": "'builtins.eval'",
    "keras_get_file_function": "'keras.utils.get_file'",
    "custom_registered_layer": "custom registered object",
    "tfsm_layer": "TFSMLayer",
    "torch_module_wrapper": "TorchModuleWrapper",
    "string_lookup_vocabulary_file": "'/etc/passwd'",
    "zip_bomb_ratio": "zip bomb",
    "zip_bomb_declared": "zip bomb",
    "h5_external_link": "links to another file",
    "keras_weights_external_link": "links to another file",
    "h5_external_dataset": "external or virtual",
    "h5_virtual_dataset": "external or virtual",
    "h5_huge_declared_shape": "declares datasets of",
    "h5_weights_only": "only weights",
    "saved_model_zip": "SavedModel",
    "text_named_keras": "not a Keras model",
    "empty_file": "empty",
}


def assert_one_sentence(message: str) -> None:
    assert "\n" not in message and message.endswith(".") and ". " not in message, message


@pytest.fixture
def keras_must_not_load(monkeypatch):
    """Fail the test if a file reaches Keras's deserialiser: refusals must come before it."""
    def refuse_to_load(*args, **kwargs):
        raise AssertionError("a hostile file reached keras.saving.load_model")

    monkeypatch.setattr(keras.saving, "load_model", refuse_to_load)


def test_every_hostile_case_has_an_expected_reason():
    assert set(EXPECTED_REASON) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_is_refused_with_one_sentence_before_keras_reads_it(case, tmp_path, keras_must_not_load):
    path = CASES[case](tmp_path)
    MARKER.unlink(missing_ok=True)
    with pytest.raises(VizcoreError) as refusal:
        load_model_file(path)
    assert_one_sentence(str(refusal.value))
    assert EXPECTED_REASON[case] in str(refusal.value)
    assert not MARKER.exists()


def test_saved_model_folder_is_refused(tmp_path, keras_must_not_load):
    hostile_models.saved_model_zip(tmp_path)  # leaves the SavedModel folder beside the zip
    with pytest.raises(VizcoreError, match="TensorFlow SavedModel") as refusal:
        load_model_file(tmp_path / "my_saved_model")
    assert_one_sentence(str(refusal.value))


@pytest.mark.parametrize(
    "value, reason",
    [
        ("keras.utils.get_file", "'keras.utils.get_file'"),
        ("subprocess.run", "'subprocess.run'"),
    ],
)
def test_config_strings_naming_python_objects_are_refused(value, reason):
    config = {"class_name": "Sequential", "config": {"name": "m", "layers": [], "some_setting": value}}
    with pytest.raises(VizcoreError, match=reason):
        check_config(config)


def test_unknown_layer_class_is_refused_by_default():
    config = {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"module": "keras.layers", "class_name": "EinsumDense", "config": {"name": "x"}, "registered_name": None},
    ]}}
    with pytest.raises(VizcoreError, match="'EinsumDense', which is not one of the built-in image layers"):
        check_config(config)


@pytest.fixture(scope="module")
def tiny():
    return hostile_models.good_tiny_model()


@pytest.mark.parametrize("save", [hostile_models.save_keras, hostile_models.save_h5], ids=["keras", "h5"])
def test_good_model_loads_and_predicts_like_the_original(save, tiny, tmp_path):
    path = save(tiny, tmp_path / f"tiny.{'keras' if save is hostile_models.save_keras else 'h5'}")
    loaded = load_model_file(path, "unit")
    assert loaded.spec.name.startswith("upload:")
    assert loaded.spec.display_name == path.name
    assert loaded.spec.input_size == hostile_models.GOOD_INPUT
    assert loaded.class_names == tuple(f"class {index}" for index in range(hostile_models.GOOD_CLASSES))
    pixels = random_image(80)
    expected = np.asarray(tiny(model_input(loaded, pixels)))[0]
    np.testing.assert_allclose(predictions.class_probabilities(loaded, pixels), expected, atol=1e-6)
    assert predictions.top_predictions(loaded, pixels, 1)[0].index == int(np.argmax(expected))


@pytest.fixture(scope="module")
def tiny_bytes(tmp_path_factory, tiny):
    return hostile_models.save_keras(tiny, tmp_path_factory.mktemp("tiny") / "tiny.keras").read_bytes()


def test_names_key_the_file_preprocessing_and_class_names(tiny_bytes):
    names = "\n".join(f"n{index}" for index in range(hostile_models.GOOD_CLASSES)).encode()
    base = UserModelUpload(tiny_bytes, "a.keras", "unit")
    assert base.model_name == UserModelUpload(tiny_bytes, "renamed.keras", "unit").model_name
    others = {
        UserModelUpload(tiny_bytes, "a.keras", "tf").model_name,
        UserModelUpload(tiny_bytes, "a.keras", "unit", names, "n.txt").model_name,
        UserModelUpload(tiny_bytes + b"\0", "a.keras", "unit").model_name,
    }
    assert base.model_name not in others and len(others) == 3


@pytest.mark.parametrize(
    "file_name, content",
    [
        ("names.txt", "\n".join(["cat", "dog", "", "bird", "fish", "<b>frog</b>", "newt"]) + "\n"),
        ("names.json", json.dumps(["cat", "dog", "bird", "fish", "<b>frog</b>", "newt"])),
        ("names.json", json.dumps({str(i): ["id", n] for i, n in enumerate(["cat", "dog", "bird", "fish", "<b>frog</b>", "newt"])})),
    ],
)
def test_class_names_from_a_file(tiny_bytes, file_name, content):
    loaded = load_user_model(UserModelUpload(tiny_bytes, "tiny.keras", "unit", content.encode(), file_name))
    assert loaded.class_names == ("cat", "dog", "bird", "fish", "bfrog/b", "newt")  # no markup survives


def test_class_names_that_do_not_fit_are_one_sentence(tiny_bytes):
    with pytest.raises(VizcoreError, match="lists 2 names but the model has 6 outputs") as refusal:
        load_user_model(UserModelUpload(tiny_bytes, "tiny.keras", "unit", b"cat\ndog\n", "names.txt"))
    assert_one_sentence(str(refusal.value))


def test_non_square_input_is_one_sentence(tmp_path):
    image = keras.Input((32, 48, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(image))
    path = hostile_models.save_keras(keras.Model(image, keras.layers.Dense(3)(x)), tmp_path / "wide.keras")
    with pytest.raises(VizcoreError, match="square input; this one takes 32 x 48") as refusal:
        load_model_file(path)
    assert_one_sentence(str(refusal.value))


def test_unknown_preprocessing_is_one_sentence(tiny_bytes):
    with pytest.raises(VizcoreError, match="Unknown preprocessing 'lab'"):
        load_user_model(UserModelUpload(tiny_bytes, "tiny.keras", "lab"))


def test_presets_of_the_tiny_model_are_its_real_layers(tiny_bytes):
    loaded = load_user_model(UserModelUpload(tiny_bytes, "tiny.keras"))
    presets = loaded.spec.presets
    assert presets.gradcam_layer == "conv4_relu"  # the last feature map larger than 1 x 1
    assert presets.explorer_layers == ("conv1", "conv2", "conv3", "conv4")
    assert dict(presets.gallery)["conv1"] == "0-7"  # conv1 has 8 channels
    assert set(presets.dream_layers) <= {"conv3", "conv4", "conv4_relu"}
    assert presets.content_layer in presets.style_layers or presets.content_layer in {"conv3", "pool"}


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    original = hostile_models.nested_transfer_model()
    path = hostile_models.save_keras(original, tmp_path_factory.mktemp("nested") / "transfer.keras")
    return original, load_model_file(path, "tf")


def test_nested_presets_name_layers_inside_the_base(nested):
    _, loaded = nested
    presets = loaded.spec.presets
    base_layers = {layer.name for layer in loaded.keras_model.layers[0].layers}
    named = {*presets.explorer_layers, presets.gradcam_layer, *presets.dream_layers, *presets.style_layers,
             presets.content_layer, *(layer for layer, _ in presets.gallery)}
    assert named <= base_layers
    assert presets.gradcam_layer == "out_relu"
    assert len(presets.explorer_layers) == 6 and len(presets.style_layers) == 5 and len(presets.dream_layers) == 2
    feature_maps = {info.name for info in feature_map_layers(loaded)}
    assert named <= feature_maps


def test_nested_activations_equal_the_base_models_own(nested):
    original, loaded = nested
    pixels = random_image(120, seed=3)
    layer = loaded.spec.presets.explorer_layers[2]
    base = original.layers[0]
    expected = keras.Model(base.input, base.get_layer(layer).output)(model_input(loaded, pixels))[0]
    np.testing.assert_allclose(activations.layer_activations(loaded, pixels, layer), np.asarray(expected), atol=1e-4)


def test_nested_gradcam_explains_a_layer_inside_the_base(nested):
    _, loaded = nested
    result = attribution.gradcam(loaded, random_image(120, seed=4))
    assert result.layer == "out_relu" and result.values.shape == (96, 96)
    assert np.isfinite(result.values).all() and result.values.std() > 0


def test_nested_filter_steps_raise_the_channel(nested):
    _, loaded = nested
    layer = loaded.spec.presets.gallery[0][0]  # the base's first convolution
    assert layer == "Conv1"
    gallery = filters.visualise_filters(loaded, layer, [0, 1], filters.FilterSettings(steps=16, size=64, seed=0))
    assert gallery.images.shape == (2, 64, 64, 3)
    summary = gallery.summary()["images"]
    assert all(row["final_activation"] > row["initial_activation"] for row in summary)


def test_nested_dream_step_changes_the_image(nested):
    _, loaded = nested
    pixels = random_image(96, seed=5)
    result = dream.deep_dream(loaded, pixels, None, dream.DreamSettings(octaves=1, steps_per_octave=2))
    assert result.image.shape == pixels.shape and result.steps_done == 2
    assert np.abs(result.image.astype(int) - pixels).mean() > 0.5
    assert set(result.layers) == set(loaded.spec.presets.dream_layers)


def test_nested_layers_are_listed_for_every_page(nested):
    _, loaded = nested
    names = {layer.name for layer in all_layers(loaded.keras_model)}
    assert {info.name for info in feature_map_layers(loaded)} <= names
    assert "block_6_project" in {info.name for info in feature_map_layers(loaded)}
