"""The CLI as a user runs it: its exit status, stdout and stderr.

Most tests run ``vizcore.cli.main`` in this process (loading TensorFlow and the embedded model
once, not once per test); the tests that are about the process itself (the ``vizcore`` command,
``python -m vizcore``, nothing else on stderr) run it as a subprocess. Either way every Keras
download fails loudly, so no test reaches the network whether or not the machine has it (a
keras.applications model is 14-550 MB).
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _refuse_download(fname, origin=None, *args, **kwargs):
    raise OSError(f"URL fetch failure on {origin}: downloads are stubbed out in tests")


# `vizcore ARGS` in a subprocess, with every Keras download replaced by a failure (Keras calls
# file_utils.get_file at download time, so replacing the attribute reaches every keras.applications constructor).
NO_DOWNLOADS = """
import sys
from vizcore import cli
cli._import_vizcore()  # TensorFlow loads here, its start-up lines hidden as in every CLI run
from keras.src.utils import file_utils
def refuse(fname, origin=None, *args, **kwargs):
    raise OSError(f"URL fetch failure on {origin}: downloads are stubbed out in tests")
file_utils.get_file = refuse
sys.exit(cli.main(sys.argv[1:]))
"""


def run_cli_process(*args, env_extra=None, cwd=ROOT, command=None):
    env = {**os.environ, **(env_extra or {})}
    env.pop("VIZCORE_DEBUG", None)
    command = command or [sys.executable, "-c", NO_DOWNLOADS]
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


_EMBEDDED = {}  # the embedded model, loaded once for every in-process run


@contextlib.contextmanager
def _environment(values: dict):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_cli(*args, env_extra=None):
    """``vizcore ARGS`` in this process: a CompletedProcess with the exit status and what it printed."""
    import vizcore
    from keras.src.utils import file_utils

    from vizcore import cli

    load_model = vizcore.load_model

    def load_once(name=vizcore.DEFAULT_MODEL, *options, **keywords):
        if name == vizcore.DEFAULT_MODEL and not options and not keywords:
            if name not in _EMBEDDED:
                _EMBEDDED[name] = load_model(name)
            return _EMBEDDED[name]
        return load_model(name, *options, **keywords)

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_get_file = file_utils.get_file
    environment = {"VIZCORE_DEBUG": "0", **(env_extra or {})}
    try:
        file_utils.get_file = _refuse_download
        vizcore.load_model = load_once
        with _environment(environment), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main([str(arg) for arg in args])
    finally:
        file_utils.get_file = saved_get_file
        vizcore.load_model = load_model
    return subprocess.CompletedProcess(list(args), code, stdout.getvalue(), stderr.getvalue())


def assert_one_sentence_error(result):
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and lines[0].endswith(".")
    return lines[0]


def test_predict_json_on_a_file(tmp_path, chelsea):
    image = tmp_path / "cat.jpg"
    Image.fromarray(chelsea).save(image, quality=95)
    view, array = tmp_path / "view.png", tmp_path / "probabilities.npy"
    result = run_cli_process("predict", str(image), "--top", "3", "--json", "--out", str(view), "--array", str(array))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # a whole process: not even TensorFlow's start-up lines
    summary = json.loads(result.stdout)
    assert summary["model"] == "efficientnet_lite0"
    assert [set(p) for p in summary["predictions"]] == [{"index", "label", "probability"}] * 3
    assert 281 <= summary["predictions"][0]["index"] <= 285
    probabilities = [p["probability"] for p in summary["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert Image.open(view).size == (224, 224)
    saved = np.load(array)
    assert saved.shape == (1000,) and saved.argmax() == summary["predictions"][0]["index"]


def test_predict_table_on_a_sample():
    result = run_cli("predict", "sample:coffee", "--top", "2")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(" 1. ") and ("espresso" in first or "cup" in first)


def test_models_lists_offline_availability(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"")
    result = run_cli("models", "--json", env_extra={"KERAS_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["models"]}
    assert rows["efficientnet_lite0"]["available_offline"] is True
    assert rows["vgg16"]["available_offline"] is False and rows["resnet50"]["available_offline"] is True
    assert rows["vgg16"]["weights_url"].endswith("/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5")
    assert rows["vgg16"]["weights_path"] == str(tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels.h5")
    assert len(rows) == 8

    table = run_cli("models", env_extra={"KERAS_HOME": str(tmp_path)}).stdout.splitlines()
    state = {line.split()[0]: line for line in table[1:]}
    assert str(tmp_path / "models") in table[0]
    assert "works now" in state["efficientnet_lite0"] and "works now" in state["resnet50"]
    assert "needs the network once: downloads https://" in state["vgg16"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["predict", "/no/such/file.png"], "There is no file at /no/such/file.png."),
        (["predict", "sample:chelsea", "--model", "alexnet"], "Unknown model 'alexnet'"),
        (["predict", "sample:unicorn"], "There is no sample image called 'unicorn'"),
        (["predict", "sample:chelsea", "--top", "0"], "Top-k must be between 1 and 1000"),
        (["predict", "sample:chelsea", "--top", "many"], "Argument --top: invalid int value"),
        (["paint", "sample:chelsea"], "invalid choice: 'paint'"),
        (["predict"], "The following arguments are required: IMAGE"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(args, expected):
    assert expected in assert_one_sentence_error(run_cli(*args))


def test_a_text_file_named_png_is_refused(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    assert "not an image vizcore can read" in assert_one_sentence_error(run_cli("predict", str(fake)))


def test_unwritable_output_is_one_sentence(tmp_path):
    line = assert_one_sentence_error(run_cli("predict", "sample:chelsea", "--out", str(tmp_path / "missing" / "x.png")))
    assert line.startswith("Could not write the output file")


def test_offline_zoo_model_is_one_sentence(tmp_path):
    # The download is stubbed to fail (NO_DOWNLOADS): the sentence names the file, its URL and the folder.
    line = assert_one_sentence_error(
        run_cli("predict", "sample:chelsea", "--model", "mobilenet_v2", env_extra={"KERAS_HOME": str(tmp_path)})
    )
    assert "download mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5 from https://storage.googleapis.com/" in line
    assert f"into {tmp_path / 'models'}," in line


def test_activations_json_grid_and_array(tmp_path):
    grid, array = tmp_path / "grid.png", tmp_path / "acts.npy"
    result = run_cli("activations", "sample:chelsea", "--layer", "stage4_block3_add", "--out", str(grid),
                     "--array", str(array), "--json", "--max-channels", "16")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["layer"] == "stage4_block3_add" and summary["shape"] == [14, 14, 80]
    means = [row["mean"] for row in summary["top_channels"]]
    assert len(means) == 10 and means == sorted(means, reverse=True)
    saved = np.load(array)
    assert saved.shape == (14, 14, 80)
    assert summary["top_channels"][0]["channel"] == int(saved.mean(axis=(0, 1)).argmax())
    assert Image.open(grid).size == (8 * 66 + 2, 2 * 66 + 2)


def test_activations_default_layer_and_bad_layer():
    result = run_cli("activations", "sample:coffee", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["layer"] == "stem_relu"
    assert "no feature map" in assert_one_sentence_error(run_cli("activations", "sample:coffee", "--layer", "logits"))


@pytest.mark.parametrize("args, closest", [
    (["activations", "sample:coffee", "--layer", "stage4_block3_ad"], "stage4_block3_add"),
    (["filters", "--steps", "2", "--layer", "stage3_block2_ad"], "stage3_block2_add"),
    (["dream", "sample:coffee", "--steps", "1", "--layers", "stage4_block3_add:1,stage5_blok3_add:1"], "stage5_block3_add"),
    (["gradcam", "sample:coffee", "--layer", "head_rel"], "head_relu"),
])
def test_unknown_layer_names_the_closest_and_the_layers_command(args, closest):
    line = assert_one_sentence_error(run_cli(*args))
    assert "The model has no layer called" in line and f"closest: {closest}" in line
    assert line.endswith("(`vizcore layers` lists them all).")


def test_layers_lists_every_layer_with_its_shape_and_presets():
    result = run_cli("layers", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    layers = {row["name"]: row for row in summary["layers"]}
    assert summary["model"] == "efficientnet_lite0" and len(layers) > 100
    assert layers["stage4_block3_add"]["shape"] == [14, 14, 80] and layers["stage4_block3_add"]["feature_map"]
    assert set(layers["stage4_block3_add"]["presets"]) == {"explorer", "dream", "style", "gallery"}
    assert layers["head_relu"]["presets"] == ["explorer", "gradcam"] and layers["stem_conv"]["presets"] == []
    assert not layers["logits"]["feature_map"]

    table = run_cli("layers").stdout.splitlines()
    rows = {line[2:].split()[0]: line for line in table[1:]}
    assert rows["stage4_block3_add"].startswith("* ") and "14×14×80" in rows["stage4_block3_add"]
    assert rows["stem_conv"].startswith("  ") and "112×112×32" in rows["stem_conv"]
    assert list(rows) == list(layers)


def test_layers_of_a_model_file(tmp_path):
    path = hostile_models.save_keras(hostile_models.good_tiny_model(), tmp_path / "tiny.keras")
    result = run_cli("layers", "--model-file", str(path), "--json")
    assert result.returncode == 0, result.stderr
    names = [row["name"] for row in json.loads(result.stdout)["layers"]]
    assert names == ["conv1", "conv1_bn", "conv1_relu", "conv2", "pool", "conv3", "conv4", "conv4_relu", "gap", "predictions"]


def test_filters_default_is_the_apps_first_gallery_preset():
    result = run_cli("filters", "--steps", "2", "--size", "32", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["layer"] == "stage4_block3_add" and summary["channels"] == list(range(16))


def test_filters_writes_grid_images_and_json(tmp_path):
    grid, array = tmp_path / "grid.png", tmp_path / "images.npy"
    result = run_cli("filters", "--layer", "stage3_block2_add", "--channels", "0-3", "--steps", "24", "--size", "64",
                     "--seed", "3", "--out", str(grid), "--array", str(array), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["layer"] == "stage3_block2_add" and summary["channels"] == [0, 1, 2, 3]
    assert len(summary["final_activation"]) == 4 and summary["seconds"] > 0
    assert summary["parameters"]["seed"] == 3 and summary["parameters"]["steps"] == 24
    assert all(row["final_activation"] > row["initial_activation"] for row in summary["images"])
    images = np.load(array)
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8
    assert Image.open(grid).size == (4 * 66 + 2, 66 + 2)


@pytest.mark.parametrize("args, message", [
    (["--channels", "0-999"], "Channel 999 does not exist"),
    (["--layer", "logits"], "no feature map"),
    (["--size", "5000"], "Image size must be between"),
    (["--channels", "x"], "Could not read channels"),
])
def test_filters_bad_input_is_one_sentence(args, message):
    assert message in assert_one_sentence_error(run_cli("filters", "--steps", "2", *args))


def test_gradcam_map_array_and_json(tmp_path):
    picture, array = tmp_path / "map.png", tmp_path / "map.npy"
    result = run_cli("gradcam", "sample:chelsea", "--class", "282", "--json", "--out", str(picture), "--array", str(array))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["method"], summary["class_index"], summary["label"], summary["layer"]) == ("gradcam", 282, "tiger cat", "head_relu")
    assert 0 < summary["class_score"] < 1
    assert 0 <= summary["deletion_area"] <= 1 and 0 <= summary["insertion_area"] <= 1
    values = np.load(array)
    assert values.shape == (224, 224) and values.dtype == np.float32
    assert Image.open(picture).size == (224, 224)


def test_occlusion_scores_the_logit_on_request(tmp_path):
    maps = {}
    for score in ("probability", "logit"):
        array = tmp_path / f"{score}.npy"
        result = run_cli("occlusion", "sample:chelsea", "--patch", "112", "--stride", "112", "--score", score, "--json",
                         "--array", str(array))
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["details"]["score"] == score and summary["details"]["patches"] == 4
        maps[score] = np.load(array)
    assert np.abs(maps["logit"] - maps["probability"]).max() > 0.1  # drops in logits, not in probability


def test_ig_reaches_the_tolerance_and_reports_its_steps_and_completeness():
    result = run_cli("ig", "sample:chelsea", "--tolerance", "0.01", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["label"] == "Egyptian cat" and summary["layer"] is None
    details = summary["details"]
    assert details["tolerance_met"] is True and details["completeness_error"] <= 0.01
    assert 17 <= details["steps"] <= 256  # the default --steps is the cap


def test_ig_at_tolerance_zero_takes_exactly_the_steps():
    result = run_cli("ig", "sample:chelsea", "--tolerance", "0", "--steps", "20", "--json")
    assert result.returncode == 0, result.stderr
    details = json.loads(result.stdout)["details"]
    assert details["steps"] == 20 and details["tolerance_met"] is None


def test_cli_methods_are_the_method_table():
    from vizcore.attribution.methods import TABLE
    from vizcore.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for method in TABLE:
        parser = commands[method.name]
        assert parser.description.startswith(method.title + ":")
        actions = {action.dest: action for action in parser._actions}
        assert ("layer" in actions) == method.needs_layer
        assert ("contrast" in actions) == method.contrastive
        for option in method.options:
            assert actions[option.name].default == option.default and actions[option.name].option_strings == [option.flag]
            assert actions[option.name].choices == (option.choices or None)


def test_guided_backprop_has_one_title_everywhere():
    result = run_cli("guided", "sample:chelsea", "--class", "285")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Guided backprop for Egyptian cat (285), probability ")


@pytest.mark.parametrize("args, message", [
    (["gradcam", "sample:chelsea", "--class", "1000"], "Class index must be between 0 and 999, not 1000."),
    (["scorecam", "sample:chelsea", "--layer", "logits"], "Layer 'logits' has no spatial map for a CAM"),
    (["occlusion", "sample:chelsea", "--patch", "0"], "Occlusion patch must be 1 to the model's input size in px, not 0 px."),
    (["occlusion", "sample:chelsea", "--stride", "300"], "Occlusion stride must be 1 to 224 px, not 300 px."),
    (["smoothgrad", "sample:chelsea", "--samples", "0"], "SmoothGrad samples must be 1 to 512, not 0."),
    (["smoothgrad", "sample:chelsea", "--noise", "1.5"], "SmoothGrad noise must be 0 to 1, not 1.5."),
    (["ig", "sample:chelsea", "--steps", "1"], "Integrated Gradients steps must be 2 to 512, not 1."),
    (["ig", "sample:chelsea", "--tolerance", "0.9"], "Integrated Gradients tolerance must be 0 to 0.5, not 0.9."),
    (["scorecam", "sample:chelsea", "--max-channels", "0"], "Score-CAM channels must be at least 1, not 0."),
])
def test_attribution_bad_input_is_one_sentence(args, message):
    assert message in assert_one_sentence_error(run_cli(*args))


@pytest.mark.parametrize("class_argument", ["tiger cat", "TIGER CAT", "282"])
def test_class_by_name_or_index(class_argument):
    result = run_cli("gradcam", "sample:chelsea", "--class", class_argument, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["class_index"], summary["label"]) == (282, "tiger cat")


def test_unknown_class_name_names_the_closest():
    line = assert_one_sentence_error(run_cli("saliency", "sample:chelsea", "--class", "tigger cat"))
    assert line.startswith("The model has no class called 'tigger cat'; closest: tiger cat")


def test_the_map_picture_is_the_shared_display_scaling(tmp_path, chelsea):
    from vizcore import viz

    picture, array = tmp_path / "map.png", tmp_path / "map.npy"
    result = run_cli("saliency", "sample:chelsea", "--out", str(picture), "--array", str(array))
    assert result.returncode == 0, result.stderr
    gradient = np.load(array)  # the raw signed gradient; the map is its largest magnitude over the colour channels
    assert gradient.shape == (224, 224, 3) and gradient.dtype == np.float32 and gradient.min() < 0 < gradient.max()
    shown = viz.display_map(np.abs(gradient).max(axis=-1), "saliency")
    expected = viz.map_picture(fit_to_model(chelsea, 224), shown, "saliency", 0.5)
    assert expected.shape == (224, 2 * 224 + viz.GRID_PADDING, 3)  # the map next to the image, and over it
    np.testing.assert_array_equal(np.asarray(Image.open(picture)), expected)


def test_contrast_shows_what_tells_two_classes_apart(tmp_path):
    array = tmp_path / "map.npy"
    result = run_cli("gradcam", "sample:chelsea", "--class", "Egyptian cat", "--contrast", "tiger cat", "--json",
                     "--array", str(array))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["class_index"], summary["contrast_class"], summary["contrast_label"]) == (285, 282, "tiger cat")
    plain = json.loads(run_cli("gradcam", "sample:chelsea", "--class", "285", "--json").stdout)
    assert plain["contrast_class"] is None
    result = run_cli("saliency", "sample:chelsea", "--class", "285", "--contrast", "282")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Saliency for Egyptian cat (285) against tiger cat (282), probability ")


@pytest.mark.parametrize("args, message", [
    (["occlusion", "sample:chelsea", "--contrast", "282"], "Unrecognized arguments: --contrast 282"),
    (["gradcam", "sample:chelsea", "--class", "282", "--contrast", "tiger cat"],
     "The contrast class must differ from the class explained."),
    (["saliency", "sample:chelsea", "--contrast", "tigger cat"], "The model has no class called 'tigger cat'"),
])
def test_a_bad_contrast_is_one_sentence(args, message):
    assert message in assert_one_sentence_error(run_cli(*args))


def test_smoothgrad_takes_a_seed_and_reports_it():
    result = run_cli("smoothgrad", "sample:chelsea", "--samples", "4", "--seed", "7", "--json")
    assert result.returncode == 0, result.stderr
    details = json.loads(result.stdout)["details"]
    assert details["seed"] == 7 and details["samples"] == 4


def test_dream_writes_the_dream_and_json(tmp_path, chelsea):
    out = tmp_path / "dream.png"
    result = run_cli("dream", "sample:chelsea", "--layers", "stage3_block2_add:1,stage4_block3_add:0.5",
                     "--octaves", "2", "--steps", "3", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["layers"] == {"stage3_block2_add": 1.0, "stage4_block3_add": 0.5} and summary["steps_done"] == 6
    assert all(summary["dream_activation"][k] > v for k, v in summary["input_activation"].items())
    dreamed = np.asarray(Image.open(out))
    assert dreamed.shape == chelsea.shape and np.abs(dreamed.astype(int) - chelsea.astype(int)).mean() > 2


def test_style_blends_two_styles_and_reports_its_losses(tmp_path):
    out = tmp_path / "styled.png"
    result = run_cli("style", "sample:chelsea", "sample:immunohistochemistry", "sample:hubble_deep_field",
                     "--style-weights", "2,1", "--steps", "10", "--size", "96", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["style_weights"] == [2.0, 1.0] and summary["steps_done"] == 10
    assert {"content_loss", "style_loss", "tv_loss", "seconds"} <= set(summary)
    assert Image.open(out).size == (96, 64)


@pytest.mark.parametrize("args, message", [
    (["dream", "sample:chelsea", "--layers", "mixed3:1"], "no layer called 'mixed3'"),
    (["dream", "sample:chelsea", "--octaves", "4", "--steps", "900"], "at most 2000 steps"),
    (["style", "sample:chelsea", "sample:coffee", "--size", "9000"], "Output size must be between"),
    (["style", "sample:chelsea", "sample:coffee", "--style-weights", "1,2"], "one weight"),
])
def test_dream_and_style_bad_input_is_one_sentence(args, message):
    assert message in assert_one_sentence_error(run_cli(*args))


# --- user models ---
import hostile_models  # noqa: E402  (tests/ helpers: hostile and good model files)
from vizcore.images import fit_to_model  # noqa: E402


def test_predict_with_a_model_file_uses_it(tmp_path, chelsea):
    model = hostile_models.good_tiny_model()
    path = hostile_models.save_keras(model, tmp_path / "tiny.keras")
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"thing {index}" for index in range(hostile_models.GOOD_CLASSES)))
    array = tmp_path / "probabilities.npy"
    result = run_cli("predict", "sample:chelsea", "--model-file", str(path), "--preprocessing", "unit",
                     "--class-names", str(names), "--top", "3", "--json", "--array", str(array))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["model"].startswith("upload:")
    expected = np.asarray(model(fit_to_model(chelsea, hostile_models.GOOD_INPUT)[None] / 255.0))[0]
    np.testing.assert_allclose(np.load(array), expected, atol=1e-5)
    top = summary["predictions"][0]
    assert top["index"] == int(np.argmax(expected)) and top["label"] == f"thing {top['index']}"


@pytest.mark.parametrize("method", ["activations", "gradcam"])
def test_other_methods_accept_a_model_file(method, tmp_path):
    path = hostile_models.save_keras(hostile_models.good_tiny_model(), tmp_path / "tiny.keras")
    result = run_cli(method, "sample:coffee", "--model-file", str(path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["model"].startswith("upload:") and summary["layer"] in ("conv1", "conv4_relu")


@pytest.mark.parametrize("case, reason", [
    ("lambda_keras", "Lambda layer"),
    ("zip_bomb_declared", "zip bomb"),
    ("h5_external_link", "links to another file"),
])
def test_hostile_model_file_exits_2_with_one_sentence(case, reason, tmp_path):
    path = hostile_models.CASES[case](tmp_path)
    hostile_models.MARKER.unlink(missing_ok=True)
    assert reason in assert_one_sentence_error(run_cli("predict", "sample:chelsea", "--model-file", str(path)))
    assert not hostile_models.MARKER.exists()


def test_model_and_model_file_together_is_one_sentence(tmp_path):
    path = hostile_models.save_keras(hostile_models.good_tiny_model(), tmp_path / "tiny.keras")
    message = assert_one_sentence_error(run_cli("filters", "--model", "vgg16", "--model-file", str(path)))
    assert "either --model or --model-file" in message


def test_predict_default_top_fits_a_model_with_three_classes(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    path = hostile_models.save_keras(model, tmp_path / "three.keras")
    result = run_cli("predict", "sample:chelsea", "--model-file", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(p["index"] for p in json.loads(result.stdout)["predictions"]) == [0, 1, 2]
    line = assert_one_sentence_error(run_cli("predict", "sample:chelsea", "--model-file", str(path), "--top", "4"))
    assert line.startswith("Top-k must be between 1 and 3")


def test_sanity_json_has_every_depth_and_the_verdict():
    result = run_cli("sanity", "gradcam", "sample:chelsea", "--class", "tiger cat", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["method"], summary["class_index"], summary["layer"]) == ("gradcam", 282, "head_relu")
    rows = summary["correlations"]
    assert len(rows) == 4 and rows[0]["randomised"] == ["logits"] and rows[1]["randomised"] == ["logits", "head_bn", "head_conv"]
    assert all(-1 <= row["spearman"] <= 1 for row in rows)
    assert summary["passes"] is (rows[-1]["spearman"] < summary["threshold"]) and summary["passes"] is True


def test_sanity_table_says_fails_for_grad_cam_plus_plus():
    result = run_cli("sanity", "gradcam++", "sample:chelsea", "--depths", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Grad-CAM++ at head_relu for Egyptian cat (285) fails the randomisation sanity check")
    assert len(lines) == 4 and lines[1].strip().endswith("logits")


@pytest.mark.parametrize("args, message", [
    (["sanity", "lime", "sample:chelsea"], "Unknown method 'lime': choose one of occlusion, saliency"),
    (["sanity", "gradcam", "sample:chelsea", "--samples", "4"], "Grad-CAM has no option 'samples'"),
    (["sanity", "saliency", "sample:chelsea", "--layer", "head_relu"], "Saliency reads no layer"),
    (["sanity", "saliency", "sample:chelsea", "--depths", "0"], "Sanity check depths must be 1 to 4, not 0."),
])
def test_sanity_bad_input_is_one_sentence(args, message):
    assert message in assert_one_sentence_error(run_cli(*args))


# --- the command as installed ---


def test_a_user_error_in_a_process_is_one_line_on_stderr():
    line = assert_one_sentence_error(run_cli_process("gradcam", "sample:chelsea", "--layer", "head_rel"))
    assert "closest: head_relu" in line


def test_python_dash_m_vizcore_runs_the_cli():
    result = run_cli_process("predict", "sample:coffee", "--top", "1", command=[sys.executable, "-m", "vizcore"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(" 1. ") and result.stderr == ""


def test_the_vizcore_command_works_from_any_folder(tmp_path):
    # `pip install -e .` (make run / make test) puts the console script next to this Python.
    command = shutil.which("vizcore", path=os.path.dirname(sys.executable))
    assert command, "no vizcore command beside this Python: run `make test`, or `pip install -e .` in the venv"
    result = run_cli_process("models", "--json", cwd=tmp_path, command=[command])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["models"][0]["name"] == "efficientnet_lite0"
    usage = run_cli_process("paint", cwd=tmp_path, command=[command])
    assert usage.returncode == 2 and usage.stderr.strip().endswith("(see vizcore --help).")
    assert len(usage.stderr.strip().splitlines()) == 1, usage.stderr


def test_reading_the_arguments_starts_no_tensorflow():
    # A usage error or --help answers at once, and TensorFlow's start-up lines never reach stderr before it.
    probe = "import sys; from vizcore import cli; cli.build_parser(); print(any(m.startswith('tensorflow') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("method, module, settings, options", [
    ("attack", "vizcore.adversarial", "AttackSettings", {"steps": "steps", "attack_method": "method", "norm": "norm"}),
    ("invert", "vizcore.inversion", "InversionSettings", {"steps": "steps", "size": "size", "tv_weight": "tv_weight"}),
    ("texture", "vizcore.texture", "TextureSettings", {"steps": "steps", "size": "size", "source_size": "source_size"}),
])
def test_literal_parser_defaults_are_the_modules_own(method, module, settings, options):
    import importlib

    from vizcore import cli

    defaults = importlib.import_module(module).__dict__[settings]()
    args = cli.build_parser().parse_args([method, "sample:chelsea"])
    for argument, field in options.items():
        assert getattr(args, argument) == getattr(defaults, field), (method, argument)


def _photo_folder(root):
    """Two class folders of the bundled photos and a text file named .jpg: a dataset for `vizcore index`."""
    import vizcore

    for name in ("coffee", "rocket"):
        (root / name).mkdir(parents=True)
        pixels = vizcore.load_sample(name)
        Image.fromarray(pixels).save(root / name / "full.jpg", quality=92)
        Image.fromarray(np.ascontiguousarray(pixels[:, ::-1])).save(root / name / "flip.png")
    (root / "readme.jpg").write_text("not a picture")
    return root


def test_index_neighbours_and_patches(tmp_path):
    data, out = _photo_folder(tmp_path / "photos"), tmp_path / "index"
    result = run_cli("index", data, "--out", out, "--layers", "stage4_block3_add", "--batch-size", "2",
                     "--shard-size", "3", "--top-k", "2", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {"images", "skipped", "seconds", "engine", "out"}
    assert summary["images"] == 4 and summary["engine"] == "local" and summary["out"] == str(out)
    assert [item["path"] for item in summary["skipped"]] == ["readme.jpg"]
    assert "not an image" in summary["skipped"][0]["reason"]

    result = run_cli("neighbours", data / "rocket" / "flip.png", "--index", out, "--k", "3", "--json")
    assert result.returncode == 0, result.stderr
    neighbours = json.loads(result.stdout)["neighbours"]
    assert [set(item) for item in neighbours] == [{"path", "distance", "label", "predicted"}] * 3
    assert neighbours[0]["path"] == "rocket/flip.png" and neighbours[0]["distance"] < 1e-2
    assert neighbours[1]["label"] == "rocket"

    grid = tmp_path / "grid.png"
    result = run_cli("patches", "--index", out, "--layer", "stage4_block3_add", "--channel", "3", "--k", "2",
                     "--out", grid, "--json")
    assert result.returncode == 0, result.stderr
    patches = json.loads(result.stdout)
    assert (patches["layer"], patches["channel"], len(patches["patches"])) == ("stage4_block3_add", 3, 2)
    first, second = patches["patches"]
    assert first["activation"] >= second["activation"] and len(first["box"]) == 4
    assert Image.open(grid).size[0] > 0

    again = run_cli("index", data, "--out", out, "--layers", "stage3_block2_add")
    assert "other settings" in assert_one_sentence_error(again)
    assert "no layer called" in assert_one_sentence_error(run_cli("patches", "--index", out, "--layer", "nope", "--channel", "0"))
    assert "no vizcore index" in assert_one_sentence_error(run_cli("neighbours", "sample:coffee", "--index", tmp_path))


# --- class visualisation, feature inversion, texture synthesis ---


def test_filters_class_objective_takes_names_and_indices():
    result = run_cli("filters", "--objective", "class", "--class", "tabby,967", "--steps", "2", "--size", "32", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["classes"] == [281, 967] and [row["label"] for row in summary["images"]] == ["tabby", "espresso"]
    assert {"final_logit", "initial_logit", "top1_label", "top1_probability"} <= set(summary["images"][0])


def test_invert_writes_the_originals_row_the_reconstructions_and_json(tmp_path):
    grid, array = tmp_path / "grid.png", tmp_path / "images.npy"
    result = run_cli("invert", "sample:chelsea", "--layers", "stem_relu,stage4_block3_add", "--steps", "4", "--size", "32",
                     "--out", grid, "--array", array, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [row["layer"] for row in summary["layers"]] == ["stem_relu", "stage4_block3_add"]
    assert all({"layer", "feature_distance", "correlation"} <= set(row) for row in summary["layers"])
    assert Image.open(grid).size == (3 * 32 + 2 * 2, 32)  # the image, then each layer's reconstruction
    assert np.load(array).shape == (2, 32, 32, 3)


def test_texture_is_the_asked_size(tmp_path):
    out = tmp_path / "texture.png"
    result = run_cli("texture", "sample:coffee", "--size", "40", "--source-size", "32", "--steps", "4", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["size"] == [40, 40] and summary["steps_done"] == 4
    assert summary["gram_distance"] < summary["initial_gram_distance"]
    assert Image.open(out).size == (40, 40)


@pytest.mark.parametrize("args, message", [
    (["filters", "--objective", "class"], "needs --class"),
    (["filters", "--class", "1"], "--class goes with --objective class"),
    (["filters", "--objective", "class", "--class", "1", "--layer", "stem_relu"], "leave out --layer"),
    (["filters", "--objective", "class", "--class", "1000"], "Class 1000 does not exist"),
    (["invert", "sample:chelsea", "--layers", "nope"], "no layer called 'nope'"),
    (["invert", "sample:chelsea", "--size", "5000"], "Image size must be between"),
    (["texture", "sample:chelsea", "--size", "5000"], "Texture size must be between"),
    (["texture", "sample:chelsea", "--steps", "0"], "Steps must be between"),
])
def test_class_inversion_and_texture_bad_input_is_one_sentence(args, message):
    assert message in assert_one_sentence_error(run_cli(*args))
