"""Two models side by side (ui/model_comparison.py): a tiny uploaded model against the embedded one, in AppTest."""

import os

import pytest
from streamlit.testing.v1 import AppTest

import hostile_models  # tests/ helpers: good and hostile model files

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "app.py")
EMBEDDED = "efficientnet_lite0"


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-model")
    return hostile_models.save_keras(hostile_models.good_tiny_model(), folder / "tiny.keras").read_bytes()


def assert_healthy(at):
    assert not at.exception, [e.value for e in at.exception]


def test_a_second_model_that_cannot_load_turns_the_comparison_off_with_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache: VGG16 must be downloaded, which fails here
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.sidebar.selectbox(key="compare_model").set_value("vgg16").run()
    assert_healthy(at)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels.h5" in at.sidebar.error[0].value
    assert at.sidebar.selectbox(key="compare_model").value == ""
    assert not [header for header in at.subheader if header.value.startswith("Side by side")]


def test_an_uploaded_model_beside_the_embedded_one_on_predictions_and_grad_cam(tiny_model_file):
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert at.sidebar.selectbox(key="compare_model").value == ""  # off by default
    assert not [header for header in at.subheader if header.value.startswith("Side by side")]
    at.sidebar.file_uploader(key="user_model_file").set_value(("tiny.keras", tiny_model_file, "application/octet-stream"))
    at.run()
    uploaded = at.sidebar.selectbox(key="model_choice").value
    assert uploaded.startswith("upload:")  # the uploaded model is the first model now: cheap pages
    at.sidebar.selectbox(key="compare_model").set_value(EMBEDDED).run()
    assert_healthy(at)

    # Predictions: both models' charts, then every class of either top 5 in one table.
    assert [header.value for header in at.subheader] == ["Side by side with EfficientNet-Lite0 (embedded)"]
    assert len(at.get("plotly_chart")) == 3  # the page's own chart, then one per model
    table = at.dataframe[0].value
    assert list(table.columns) == ["label", "first_rank", "first_probability", "second_rank", "second_probability",
                                   "difference"]
    assert len(table) == 10  # no class name in common: five of each
    assert table["label"].iloc[0].startswith("class ") and table["label"].iloc[5] in ("Egyptian cat", "tabby", "tiger cat")
    assert table["second_rank"].iloc[5] == 1 and table["first_rank"].iloc[0] == 1
    assert any(block.value.startswith("They disagree on the top class") for block in at.markdown)
    assert "Comparison JSON" in [button.label for button in at.get("download_button")]

    # Grad-CAM: the first class's map from each, and their difference as a picture and a number.
    at.switch_page("pages/grad-cam.py").run()
    assert_healthy(at)
    assert "Side by side with EfficientNet-Lite0 (embedded)" in [header.value for header in at.subheader]
    titles = [block.value for block in at.markdown if block.value.startswith("**")][-3:]
    assert titles[0].startswith("**tiny.keras** · class ") and titles[0].endswith("conv4_relu")
    assert titles[1] == "**EfficientNet-Lite0 (embedded)** · Egyptian cat · head_relu"  # its own top class
    assert titles[2] == "**Difference** · Grad-CAM"
    caption = at.main.get("image")[-1].proto.imgs[0].caption
    mean_absolute = float(caption.split("mean absolute difference ")[1].split(" ")[0])
    assert 0.0 < mean_absolute < 1.0
    assert any(box.value.startswith("EfficientNet-Lite0 (embedded) has no class 'class ") for box in at.info)
    assert {"Difference PNG", "Difference JSON"} <= {button.label for button in at.get("download_button")}

    # The same model twice is no comparison.
    at.sidebar.selectbox(key="compare_model").set_value(uploaded).run()
    assert_healthy(at)
    assert not [header for header in at.subheader if header.value.startswith("Side by side")]
