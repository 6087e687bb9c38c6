import h5py
import keras
import numpy as np
import pytest

from vizcore import models
from vizcore.images import fit_to_model
from vizcore.errors import VizcoreError
from vizcore.models import zoo
from vizcore.models.class_names import imagenet_class_names

KERAS_PREPROCESS = {
    "vgg16": keras.applications.vgg16.preprocess_input,
    "vgg19": keras.applications.vgg19.preprocess_input,
    "resnet50": keras.applications.resnet50.preprocess_input,
    "inception_v3": keras.applications.inception_v3.preprocess_input,
    "mobilenet_v2": keras.applications.mobilenet_v2.preprocess_input,
    "xception": keras.applications.xception.preprocess_input,
    "efficientnet_b0": keras.applications.efficientnet.preprocess_input,
}


def test_registry_has_the_embedded_default_and_the_zoo():
    assert models.DEFAULT_MODEL == "efficientnet_lite0"
    assert set(KERAS_PREPROCESS) | {"efficientnet_lite0"} == set(models.MODELS)
    assert models.get_spec("efficientnet_lite0").embedded


def test_unknown_model_names_the_choices():
    with pytest.raises(VizcoreError, match="choose one of efficientnet_lite0, vgg16"):
        models.get_spec("alexnet")


@pytest.mark.parametrize("name", sorted(KERAS_PREPROCESS))
def test_zoo_preprocessing_matches_keras(name):
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    ours = models.get_spec(name).preprocessing.to_model(pixels.copy())
    theirs = KERAS_PREPROCESS[name](pixels.copy())
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("name", sorted(KERAS_PREPROCESS))
def test_zoo_presets_name_real_layers(name):
    spec = models.get_spec(name)
    size = spec.input_size
    base = zoo.ARCHITECTURES[name](weights=None, include_top=False, input_shape=(size, size, 3))
    layer_names = {layer.name for layer in base.layers}
    presets = spec.presets
    wanted = {*presets.explorer_layers, presets.gradcam_layer, *presets.dream_layers, *presets.style_layers, presets.content_layer, *(layer for layer, _ in presets.gallery)}
    assert wanted <= layer_names, wanted - layer_names
    assert len(base.get_layer(presets.gradcam_layer).output.shape) == 4
    keras.backend.clear_session()


def test_embedded_presets_name_real_layers(embedded_model):
    layer_names = {layer.name for layer in embedded_model.keras_model.layers}
    presets = embedded_model.spec.presets
    wanted = {*presets.explorer_layers, presets.gradcam_layer, *presets.dream_layers, *presets.style_layers, presets.content_layer, *(layer for layer, _ in presets.gallery)}
    assert wanted <= layer_names


@pytest.mark.parametrize("mode", sorted(models.PREPROCESSING))
def test_preprocessing_round_trips(mode):
    pixels = np.random.default_rng(1).uniform(0, 255, (4, 5, 3)).astype(np.float32)
    preprocessing = models.get_preprocessing(mode)
    np.testing.assert_allclose(preprocessing.to_pixels(preprocessing.to_model(pixels)), pixels, atol=1e-3)


def test_offline_zoo_model_names_the_file_to_place(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] Temporary failure")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    with pytest.raises(VizcoreError) as caught:
        models.load_model("mobilenet_v2")
    message = str(caught.value)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5" in message
    assert str(tmp_path / "models") in message
    assert "\n" not in message and message.endswith(".")


def test_weights_available_offline_follows_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = models.get_spec("resnet50")
    assert not models.weights_available_offline(spec)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / spec.weights_file).write_bytes(b"")
    assert models.weights_available_offline(spec)
    assert models.weights_available_offline(models.get_spec("efficientnet_lite0"))


def test_imagenet_class_names_are_complete_and_unique():
    names = imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert names[281] == "tabby" and names[285] == "Egyptian cat" and names[967] == "espresso"


# --- the zoo offline: weights already in the Keras cache ---


def refuse_downloads(monkeypatch):
    """Every Keras download fails loudly: a test that reaches the network is a failing test."""

    def download(fname, origin=None, *args, **kwargs):
        raise AssertionError(f"a test tried to download {origin}")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", download)


def test_zoo_model_with_its_weights_file_in_the_keras_cache_loads_without_the_network(tmp_path, monkeypatch, chelsea):
    from keras.src.legacy.saving import legacy_h5_format

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    refuse_downloads(monkeypatch)
    spec = models.get_spec("mobilenet_v2")
    keras.utils.set_random_seed(3)
    original = keras.applications.MobileNetV2(weights=None)  # random weights, saved the way Keras's download is laid out
    (tmp_path / "models").mkdir()
    with h5py.File(tmp_path / "models" / spec.weights_file, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, original)
    assert models.weights_available_offline(spec)

    loaded = models.load_model("mobilenet_v2")

    batch = spec.preprocessing.to_model(fit_to_model(chelsea, spec.input_size)[None].astype(np.float32))
    np.testing.assert_allclose(np.asarray(loaded.keras_model(batch)), np.asarray(original(batch)), atol=1e-5)
    keras.backend.clear_session()


def test_a_broken_weights_file_in_the_cache_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    refuse_downloads(monkeypatch)
    spec = models.get_spec("mobilenet_v2")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / spec.weights_file).write_bytes(b"half a download")
    with pytest.raises(VizcoreError) as caught:
        models.load_model("mobilenet_v2")
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "models" / spec.weights_file)) and "not a usable MobileNetV2 weights file" in message
    assert zoo.weights_url("mobilenet_v2", spec.weights_file) in message and "\n" not in message


def test_offline_sentence_says_where_to_download_the_file_from(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(fname, origin=None, *args, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    with pytest.raises(VizcoreError) as caught:
        models.load_model("vgg16")
    assert str(caught.value) == (
        "VGG16 needs its ImageNet weights and they could not be downloaded (offline?): download "
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5 from https://storage.googleapis.com/tensorflow/"
        "keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5 into "
        f"{tmp_path / 'models'}, then choose VGG16 again."
    )


@pytest.mark.parametrize("name", sorted(KERAS_PREPROCESS))
def test_every_zoo_url_is_the_keras_url_of_its_file(name, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = models.get_spec(name)
    asked = []

    def record(fname, origin=None, *args, **kwargs):
        asked.append((fname, origin))
        raise OSError("offline")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", record)
    with pytest.raises(VizcoreError):
        models.load_model(name)
    assert asked == [(spec.weights_file, zoo.weights_url(name, spec.weights_file))]
    keras.backend.clear_session()


# --- your own model file through load_model ---


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    import hostile_models

    model = hostile_models.good_tiny_model()
    return model, hostile_models.save_keras(model, tmp_path_factory.mktemp("tiny") / "tiny.keras")


@pytest.mark.parametrize("how", ["str", "path", "relative"])
def test_load_model_takes_a_model_file(how, tiny_file, chelsea, monkeypatch):
    model, path = tiny_file
    if how == "relative":
        monkeypatch.chdir(path.parent)
    argument = {"str": str(path), "path": path, "relative": path.name}[how]
    loaded = models.load_model(argument, preprocessing="unit", class_names=[f"thing {i}" for i in range(6)])
    assert loaded.spec.name.startswith("upload:") and loaded.class_names[5] == "thing 5"
    pixels = fit_to_model(chelsea, loaded.spec.input_size)[None].astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded.keras_model(pixels / 255.0)), np.asarray(model(pixels / 255.0)), atol=1e-6)


def test_load_model_checks_a_file_like_an_upload(tmp_path):
    import hostile_models

    path = hostile_models.CASES["lambda_keras"](tmp_path)
    hostile_models.MARKER.unlink(missing_ok=True)
    with pytest.raises(VizcoreError, match="Lambda layer"):
        models.load_model(str(path))
    assert not hostile_models.MARKER.exists()
    with pytest.raises(VizcoreError, match="There is no file at"):
        models.load_model(str(tmp_path / "missing.h5"))


def test_load_model_file_options_are_refused_for_registry_models():
    with pytest.raises(VizcoreError, match="apply to your own model files only"):
        models.load_model("vgg16", preprocessing="caffe")
