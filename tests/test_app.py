"""The dashboard as a user drives it, through Streamlit's AppTest."""

import base64
import gc
import io
import json
import os

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")
# Every page script in pages/, the default page first (a new page is covered without being listed here).
PAGES = ["pages/predictions.py"] + sorted(
    f"pages/{name}" for name in os.listdir(os.path.join(ROOT, "pages")) if name.endswith(".py") and name != "predictions.py"
)
CAT_LABELS = ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")


@pytest.fixture
def app():
    return AppTest.from_file(APP, default_timeout=180).run()


def chart_labels(at):
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return spec["data"][0]["y"]


def plotly_array(value):
    """Plotly sends numpy arrays as {"dtype", "bdata": base64}; lists stay lists."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def assert_healthy(at):
    assert not at.exception, [e.value for e in at.exception]


def test_default_run_shows_cat_predictions(app):
    assert_healthy(app)
    assert app.title[0].value == "Predictions"
    assert app.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"
    assert app.sidebar.selectbox(key="sample_choice").value == "chelsea"
    labels = chart_labels(app)
    assert len(labels) == 5 and labels[0].startswith(CAT_LABELS)
    assert any(caption.value.startswith("Model time:") for caption in app.caption)
    assert [button.label for button in app.get("download_button")] == ["Download CSV", "Download JSON"]
    assert any("Computing on:" in caption.value for caption in app.sidebar.caption)


def test_top_k_slider_changes_the_chart(app):
    app.slider(key="predictions_top_k").set_value(12).run()
    assert_healthy(app)
    assert len(chart_labels(app)) == 12


def test_switching_pages_keeps_model_and_image(app):
    app.sidebar.selectbox(key="sample_choice").set_value("coffee").run()
    assert chart_labels(app)[0].startswith(("espresso", "cup", "coffee mug"))
    for page in PAGES[1:]:
        app.switch_page(page).run()
        assert_healthy(app)
        assert app.sidebar.selectbox(key="sample_choice").value == "coffee"
        assert app.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"
    app.switch_page("pages/predictions.py").run()
    assert app.title[0].value == "Predictions"
    assert chart_labels(app)[0].startswith(("espresso", "cup", "coffee mug"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_through_the_app_with_two_plain_sentences(app, page):
    # AppTest runs every script run as a server process's first, which Streamlit serves with its
    # legacy pages-folder runner: the page file is run alone unless it hands over to app.py.
    app.switch_page(page).run()
    assert_healthy(app)
    assert app.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"  # app.py drew the sidebar
    intro = app.markdown[0].value
    assert intro.count(". ") >= 1 and intro.endswith(".")
    assert not any("not built yet" in info.value for info in app.info)


def _upload(app, name, data, mime):
    app.sidebar.radio(key="image_source").set_value("Upload").run()
    app.sidebar.file_uploader[0].set_value((name, data, mime)).run()


def test_uploaded_image_is_used(app, coffee):
    buffer = io.BytesIO()
    Image.fromarray(coffee).save(buffer, "PNG")
    _upload(app, "my_coffee.png", buffer.getvalue(), "image/png")
    assert_healthy(app)
    assert chart_labels(app)[0].startswith(("espresso", "cup", "coffee mug"))
    assert "my_coffee.png" in app.sidebar.get("image")[0].proto.imgs[0].caption


def test_bad_upload_is_one_sentence_and_keeps_working(app):
    _upload(app, "notes.png", b"this is not an image", "image/png")
    assert_healthy(app)
    assert "not an image vizcore can read" in app.sidebar.error[0].value
    assert not app.sidebar.info  # a file was uploaded: no "No image uploaded yet" beside its error
    assert chart_labels(app)[0].startswith(CAT_LABELS)  # still serving the sample


def test_offline_zoo_model_keeps_the_previous_model(app, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache: VGG16 must be downloaded, which fails here
    app.sidebar.selectbox(key="model_choice").set_value("vgg16").run()
    assert_healthy(app)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels.h5" in app.sidebar.error[0].value
    assert app.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"
    assert chart_labels(app)[0].startswith(CAT_LABELS)


def test_model_picker_marks_the_models_that_download_their_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # a Keras cache holding VGG19's weights file and no other
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"")
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert_healthy(at)
    picker = at.sidebar.selectbox(key="model_choice")
    assert {"EfficientNet-Lite0 (embedded)", "VGG16 (downloads weights)", "VGG19"} <= set(picker.options)
    assert picker.value == "efficientnet_lite0"  # marking changes no choice


def test_bad_upload_after_a_good_one_keeps_the_good_one(app, coffee):
    buffer = io.BytesIO()
    Image.fromarray(coffee).save(buffer, "JPEG")
    _upload(app, "coffee.jpg", buffer.getvalue(), "image/jpeg")
    app.sidebar.file_uploader[0].set_value(("broken.jpg", buffer.getvalue()[:500], "image/jpeg")).run()
    assert_healthy(app)
    assert "damaged or incomplete" in app.sidebar.error[0].value
    assert chart_labels(app)[0].startswith(("espresso", "cup", "coffee mug"))


def test_activation_explorer_shows_the_chosen_layer(app):
    app.switch_page("pages/activation-explorer.py").run()
    assert_healthy(app)
    layer_box = app.selectbox(key="explorer_layer_efficientnet_lite0")
    assert layer_box.value == "stem_relu"  # the first preset
    assert "32 of 32" in app.main.get("image")[0].proto.imgs[0].caption
    layer_box.set_value("head_relu").run()
    assert_healthy(app)
    assert app.number_input(key="explorer_page_head_relu").max == 20  # 1280 channels, 64 a page
    assert "64 of 1280" in app.main.get("image")[0].proto.imgs[0].caption
    app.number_input(key="explorer_channel_head_relu").set_value(7).run()
    assert_healthy(app)
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    means = plotly_array(spec["data"][0]["y"])
    assert means.shape == (1280,) and means.max() > 0
    assert spec["data"][0]["marker"]["color"][7] == "#d62728"
    assert [b.label for b in app.get("download_button")] == ["Grid PNG", "Activations NPY", "Parameters JSON"]
    assert app.sidebar.selectbox(key="sample_choice").value == "chelsea"
    app.switch_page("pages/predictions.py").run()
    app.switch_page("pages/activation-explorer.py").run()  # a visit elsewhere keeps the page's choices
    assert app.selectbox(key="explorer_layer_efficientnet_lite0").value == "head_relu"
    assert app.number_input(key="explorer_channel_head_relu").value == 7


def test_filter_gallery_renders_caches_and_downloads(app):
    app.switch_page("pages/filter-gallery.py").run()
    assert_healthy(app)
    assert app.selectbox(key="filters_layer_efficientnet_lite0").value == "stage4_block3_add"  # the first preset
    assert "press Render" in app.info[0].value and not app.main.get("image")
    app.selectbox(key="filters_layer_efficientnet_lite0").set_value("stage3_block2_add")
    app.text_input(key="filters_channels_efficientnet_lite0").set_value("0-3")
    app.slider(key="filters_steps").set_value(32)
    app.select_slider(key="filters_size").set_value(64).run()
    app.button(key="filters_run").click().run()
    assert_healthy(app)
    tiles = app.main.get("image")[-1].proto.imgs
    assert [tile.caption for tile in tiles] == ["channel 0", "channel 1", "channel 2", "channel 3"]
    assert any("stage3_block2_add: channels 0-3 (4 images, 32 steps" in caption.value for caption in app.main.caption)
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    start, final = plotly_array(spec["data"][0]["y"]), plotly_array(spec["data"][1]["y"])
    assert np.all(final > start)
    assert [b.label for b in app.get("download_button")] == ["Grid PNG", "Images NPY", "Parameters JSON", "Animation GIF",
                                                         "Animation MP4"]

    app.switch_page("pages/predictions.py").run()
    app.switch_page("pages/filter-gallery.py").run()  # back again: the finished gallery comes from the cache
    assert_healthy(app)
    assert not app.info and any("4 images, 32 steps" in caption.value for caption in app.main.caption)
    assert len(app.main.get("image")[-1].proto.imgs) == 4


LAYER_CHANGES = 20
LAYER_CHANGES_LIMIT_MB = 30.0


def _rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_twenty_layer_changes_in_the_filter_gallery_stay_small(app):
    """Choosing a layer reads its shape; it used to build a folded copy of the model per layer (73 MB for 8)."""
    from vizcore import cached
    from vizcore.models.layers import feature_map_layers

    app.switch_page("pages/filter-gallery.py").run()
    model = cached.shared_model("efficientnet_lite0")
    derived = model.derived
    deep = [info.name for info in feature_map_layers(model)][-2 * (LAYER_CHANGES + 2):]
    for layer in deep[:4:2]:  # the first changes fill Streamlit's and the page's own caches
        app.selectbox(key="filters_layer_efficientnet_lite0").set_value(layer).run()
    views, before = len(derived), _rss_mb()
    for layer in deep[4::2][:LAYER_CHANGES]:
        app.selectbox(key="filters_layer_efficientnet_lite0").set_value(layer).run()
        assert_healthy(app)
        assert app.selectbox(key="filters_layer_efficientnet_lite0").value == layer
    growth = _rss_mb() - before
    assert len(derived) == views  # no model view was built for a layer nobody rendered
    assert growth <= LAYER_CHANGES_LIMIT_MB, f"{LAYER_CHANGES} layer changes added {growth:.1f} MB"


def test_filter_gallery_bad_channels_is_one_sentence(app):
    app.switch_page("pages/filter-gallery.py").run()
    app.text_input(key="filters_channels_efficientnet_lite0").set_value("0-5000").run()
    assert_healthy(app)
    assert app.error[0].value == "Channel 5000 does not exist: the layer has channels 0 to 79."


def card_titles(at) -> list[str]:
    return [block.value for block in at.markdown if block.value.startswith("**")]


def test_occlusion_and_saliency_open_with_the_cheap_maps_and_run_the_rest(app):
    from vizcore import cached

    app.switch_page("pages/occlusion-and-saliency.py").run()
    assert_healthy(app)
    assert app.selectbox(key="saliency_class_efficientnet_lite0_" + app.session_state["selection"].image_key).value == 285
    # Saliency and guided backprop show at once, each with its faithfulness; nothing slow has run.
    assert card_titles(app) == ["**Saliency** · Egyptian cat", "**Guided backprop** · Egyptian cat"]
    assert len(app.main.get("image")) == 2 and len(app.get("plotly_chart")) == 2
    assert sum("deletion" in caption.value and "insertion" in caption.value for caption in app.main.caption) == 2
    assert [b.label for b in app.get("download_button")] == ["Report"] + ["PNG", "NPY", "JSON"] * 2
    assert app.button(key="saliency_smoothgrad_run").label.startswith("Run SmoothGrad (")
    assert app.button(key="saliency_ig_run").label.startswith("Run Integrated Gradients (")
    assert app.button(key="saliency_occlusion_run").label == "Run Occlusion (169 patched images)"
    assert len(app.info) == 3 and all("press Run" in box.value for box in app.info)
    assert cached.result_store("saliency_occlusion").get(
        ("efficientnet_lite0", app.session_state["selection"].image_key, "occlusion", 285,
         (("fill", "grey"), ("patch", 32), ("score", "probability"), ("stride", 16)))
    ) is None

    # Occlusion with big patches (9 patched images) runs on its button and shows its map.
    app.slider(key="saliency_occlusion_patch").set_value(112)
    app.slider(key="saliency_occlusion_stride").set_value(56)
    app.radio(key="saliency_occlusion_score").set_value("logit").run()
    assert app.button(key="saliency_occlusion_run").label == "Run Occlusion (9 patched images)"
    app.button(key="saliency_occlusion_run").click().run()
    assert_healthy(app)
    assert card_titles(app)[-1] == "**Occlusion** · Egyptian cat"
    assert len(app.main.get("image")) == 3 and len(app.get("plotly_chart")) == 3
    assert [b.label for b in app.get("download_button")][-2:] == ["Animation GIF", "Animation MP4"]  # the sweep
    # Coming back: the finished map is kept, so it shows without pressing Run again.
    app.switch_page("pages/predictions.py").run()
    app.switch_page("pages/occlusion-and-saliency.py").run()
    assert_healthy(app)
    assert card_titles(app)[-1] == "**Occlusion** · Egyptian cat" and len(app.info) == 2

    # SmoothGrad and IG run the same way (few samples and steps here).
    app.slider(key="saliency_smoothgrad_samples").set_value(4)
    app.slider(key="saliency_ig_steps").set_value(8)
    app.slider(key="saliency_ig_tolerance").set_value(0.0).run()
    app.button(key="saliency_smoothgrad_run").click().run()
    app.button(key="saliency_ig_run").click().run()
    assert_healthy(app)
    assert set(card_titles(app)[2:]) == {"**SmoothGrad** · Egyptian cat", "**Integrated Gradients** · Egyptian cat",
                                         "**Occlusion** · Egyptian cat"}
    assert not app.info

    app.multiselect(key="saliency_methods").set_value(["saliency"]).run()
    assert_healthy(app)
    assert card_titles(app) == ["**Saliency** · Egyptian cat", "**Occlusion** · Egyptian cat"]


def test_integrated_gradients_on_the_page_reach_the_tolerance_and_say_so(app):
    app.switch_page("pages/occlusion-and-saliency.py").run()
    assert app.slider(key="saliency_ig_tolerance").value == 0.01  # the tolerance mode is the page's default
    app.multiselect(key="saliency_methods").set_value(["ig"]).run()
    app.button(key="saliency_ig_run").click().run()
    assert_healthy(app)
    captions = [image.caption for element in app.main.get("image") for image in element.proto.imgs]
    ig_caption = next(caption for caption in captions if caption.startswith("completeness error "))
    assert ig_caption.endswith("gradient steps (tolerance 1.0%)"), ig_caption
    assert float(ig_caption.split()[2].rstrip("%")) <= 1.0


def test_gradcam_two_classes_and_method_comparison(app):
    app.switch_page("pages/grad-cam.py").run()
    assert_healthy(app)
    image_key = app.session_state["selection"].image_key
    assert app.selectbox(key="gradcam_layer_efficientnet_lite0").value == "head_relu"
    app.selectbox(key="gradcam_second_efficientnet_lite0_" + image_key).set_value(281).run()  # tabby
    assert_healthy(app)
    titles = [block.value for block in app.markdown if block.value.startswith("**Grad-CAM**")]
    assert titles == ["**Grad-CAM** · Egyptian cat", "**Grad-CAM** · tabby", "**Grad-CAM** · Egyptian cat against tabby"]
    assert any(caption.value.startswith("Right: what tells them apart") for caption in app.caption)
    npy = [button for button in app.get("download_button") if button.label == "NPY"]
    assert len(npy) == 3  # the contrastive map has its downloads too
    app.radio(key="gradcam_method").set_value("gradcam++").run()
    assert_healthy(app)
    assert any(block.value.startswith("**Grad-CAM++**") for block in app.markdown)
    app.button(key="gradcam_compare_run").click().run()
    assert_healthy(app)
    table = app.dataframe[0].value
    assert list(table.columns) == ["rank", "method", "score", "deletion_area", "insertion_area", "deletion_rank",
                                   "insertion_rank"]
    assert len(table) == 9 and list(table["rank"]) == sorted(table["rank"])
    np.testing.assert_allclose(table["score"], table["insertion_area"] - table["deletion_area"], atol=1e-9)
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    assert sorted(table["deletion_rank"]) == sorted(table["insertion_rank"]) == list(range(1, 10))  # no ties here
    tiles = [caption.value for caption in app.caption if caption.value.startswith("**") and "score" in caption.value]
    assert [tile.split(". ")[1].split("**")[0] for tile in tiles] == list(table["method"])  # tiles in rank order
    assert any("Kendall tau" in caption.value for caption in app.caption)
    assert app.get("download_button")[0].label == "Report"  # the first class's map and every compared method's


def test_gradcam_sanity_badge_on_demand(app):
    app.switch_page("pages/grad-cam.py").run()
    assert_healthy(app)

    def badges():
        return [block.value for block in app.markdown if "sanity check]" in block.value]

    assert badges() == [] and app.button(key="cam_first_sanity").label == "Sanity check"  # computed only when asked
    app.button(key="cam_first_sanity").click().run()
    assert_healthy(app)
    assert badges() == [":green-badge[:material/check_circle: passes sanity check]"]  # Grad-CAM, first class only
    curves = [caption.value for caption in app.caption if caption.value.startswith("Rank correlation with the original")]
    assert len(curves) == 1 and curves[0].count(" → ") == 3  # four depths, logits first
    app.radio(key="gradcam_method").set_value("gradcam++").run()
    assert_healthy(app)
    assert sum("Grad-CAM++ reduces to" in caption.value for caption in app.caption) == 2  # beside both one-class maps
    app.button(key="cam_second_sanity").click().run()
    assert_healthy(app)
    assert badges() == [":red-badge[:material/warning: fails sanity check]"]


def test_gradcam_on_an_early_layer(app):
    app.switch_page("pages/grad-cam.py").run()
    app.selectbox(key="gradcam_layer_efficientnet_lite0").set_value("stem_relu").run()
    assert_healthy(app)
    assert len([block for block in app.markdown if block.value.startswith("**Grad-CAM**")]) == 3  # two classes, contrast


def test_deepdream_runs_and_keeps_its_result(app):
    app.switch_page("pages/deep-dream.py").run()
    assert_healthy(app)
    assert app.multiselect(key="dream_layers_efficientnet_lite0").value == ["stage4_block3_add", "stage5_block3_add"]
    assert "press Dream" in app.info[0].value
    app.slider(key="dream_octaves").set_value(2)
    app.slider(key="dream_steps").set_value(3).run()
    app.button(key="dream_run").click().run()
    assert_healthy(app)
    captions = [image.proto.imgs[0].caption for image in app.main.get("image")]
    assert captions[-1].startswith("The dream: 6 steps")
    assert [b.label for b in app.get("download_button")] == ["Dream PNG", "Parameters JSON", "Animation GIF",
                                                         "Animation MP4"]
    assert "mean activation" in app.main.caption[-1].value
    app.switch_page("pages/predictions.py").run()
    app.switch_page("pages/deep-dream.py").run()
    assert not app.info and app.main.get("image")[-1].proto.imgs[0].caption.startswith("The dream: 6 steps")


def test_deepdream_without_layers_is_one_sentence(app):
    app.switch_page("pages/deep-dream.py").run()
    app.multiselect(key="dream_layers_efficientnet_lite0").set_value([]).run()
    assert_healthy(app)
    assert app.error[0].value == "Choose at least one layer with a weight above 0."


def test_style_transfer_blends_two_styles(app):
    app.switch_page("pages/style-transfer.py").run()
    assert_healthy(app)
    app.multiselect(key="style_samples").set_value(["immunohistochemistry", "hubble_deep_field"])
    app.select_slider(key="style_size").set_value(128)
    app.slider(key="style_steps").set_value(20).run()
    assert len([box for box in app.number_input if box.label.startswith("Weight")]) == 2
    styles = ["sample:immunohistochemistry", "sample:hubble_deep_field"]
    assert [image.proto.imgs[0].caption for image in app.main.get("image")] == styles  # shown before Paint
    app.button(key="style_run").click().run()
    assert_healthy(app)
    captions = [image.proto.imgs[0].caption for image in app.main.get("image")]
    assert captions[:2] == styles and captions[-1].startswith("Styled: 20 steps")
    assert "content" in app.main.caption[-1].value and "style" in app.main.caption[-1].value
    assert [b.label for b in app.get("download_button")] == ["Styled PNG", "Parameters JSON", "Animation GIF",
                                                         "Animation MP4"]
    # Fast mode: a pretrained network's result beside this painting, each with its time
    app.radio(key="style_method").set_value("Fast (one forward pass)").run()
    app.select_slider(key="fast_style_size").set_value(256).run()
    assert_healthy(app)
    content, fast, optimised = [picture.caption for image in app.main.get("image") for picture in image.proto.imgs]
    assert content == "Content" and fast.startswith("Fast: one pass in ") and fast.endswith("(256×170 px)")
    assert optimised.startswith("Optimisation: 20 steps in ") and optimised.endswith("(128 px)")
    assert [box.label for box in app.number_input] == ["Weight of sample:immunohistochemistry"]
    app.radio(key="fast_style_network").set_value("26 built-in styles").run()
    app.multiselect(key="fast_styles").set_value([3, 19]).run()
    assert_healthy(app)
    captions = [picture.caption for image in app.main.get("image") for picture in image.proto.imgs]
    assert captions[:26] == [f"style {number}" for number in range(26)]  # the sheet to pick from
    assert captions[26] == "Content" and captions[27].startswith("Fast: one pass in ") and len(captions) == 29
    assert [box.label for box in app.number_input] == ["Weight of style 3", "Weight of style 19"]
    assert [b.label for b in app.get("download_button")] == ["Styled PNG", "Parameters JSON"]


def test_style_transfer_needs_a_style(app):
    app.switch_page("pages/style-transfer.py").run()
    app.multiselect(key="style_samples").set_value([]).run()
    assert_healthy(app)
    assert app.info[0].value == "Choose a style sample or upload a style image."


def test_filter_gallery_class_objective_renders_the_chosen_classes(app):
    app.switch_page("pages/filter-gallery.py").run()
    app.radio(key="filters_objective").set_value("class").run()
    assert_healthy(app)
    classes = app.multiselect(key="filters_classes_efficientnet_lite0")
    assert classes.value == [285]  # chelsea's top class, Egyptian cat
    classes.set_value([285, 967])
    size = app.select_slider(key="filters_class_size_efficientnet_lite0")
    assert size.value == 224  # the model's input size
    app.slider(key="filters_steps").set_value(16)
    size.set_value(64).run()
    app.button(key="filters_run").click().run()
    assert_healthy(app)
    captions = [tile.caption for tile in app.main.get("image")[-1].proto.imgs]
    assert [caption.split(" · ")[0] for caption in captions] == ["Egyptian cat", "espresso"]
    assert all(" · seen as " in caption for caption in captions)
    assert [b.label for b in app.get("download_button")] == ["Grid PNG", "Images NPY", "Parameters JSON"]


def test_feature_inversion_shows_each_layer_and_downloads(app):
    from vizcore.models import EMBEDDED_SPEC

    app.switch_page("pages/feature-inversion.py").run()
    assert_healthy(app)
    layers = app.multiselect(key="inversion_layers_efficientnet_lite0")
    assert layers.value == list(EMBEDDED_SPEC.presets.explorer_layers)  # the default: the explorer's layers
    assert "press Invert" in app.info[0].value
    layers.set_value(["stage4_block3_add", "stem_relu"])  # shown shallow to deep whatever the order chosen
    app.select_slider(key="inversion_size").set_value(64)
    app.slider(key="inversion_steps").set_value(10).run()
    app.button(key="inversion_run").click().run()
    assert_healthy(app)
    captions = [tile.caption for tile in app.main.get("image")[-1].proto.imgs]
    assert captions[0] == "The image, as inverted"
    assert [caption.split(":")[0] for caption in captions[1:]] == ["From stem_relu", "From stage4_block3_add"]
    assert [b.label for b in app.get("download_button")] == ["Reconstructions PNG", "Images NPY", "Parameters JSON"]


def test_texture_synthesis_from_a_sample_at_the_asked_size(app):
    app.switch_page("pages/texture-synthesis.py").run()
    assert_healthy(app)
    app.selectbox(key="texture_source").set_value("immunohistochemistry")
    app.select_slider(key="texture_size").set_value(64)
    app.select_slider(key="texture_source_size").set_value(128)
    app.slider(key="texture_steps").set_value(10).run()
    app.button(key="texture_run").click().run()
    assert_healthy(app)
    captions = [image.proto.imgs[0].caption for image in app.main.get("image")]
    assert captions[-2:] == ["Texture image: sample:immunohistochemistry", captions[-1]]
    assert captions[-1].startswith("New texture: 64 px, 10 steps")
    assert "Gram distance" in app.main.caption[-1].value
    assert [b.label for b in app.get("download_button")] == ["Texture PNG", "Parameters JSON"]


# --- user models ---
import hostile_models  # noqa: E402  (tests/ helpers: hostile and good model files)


def _upload_model(app, name, data):
    app.sidebar.file_uploader(key="user_model_file").set_value((name, data, "application/octet-stream")).run()


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-model")
    return hostile_models.save_keras(hostile_models.good_tiny_model(), folder / "tiny.keras").read_bytes()


def test_uploaded_model_is_used_on_every_page(app, tiny_model_file):
    _upload_model(app, "tiny.keras", tiny_model_file)
    assert_healthy(app)
    assert not app.sidebar.error
    choice = app.sidebar.selectbox(key="model_choice")
    assert choice.value.startswith("upload:") and "Your model: tiny.keras" in choice.options
    labels = chart_labels(app)
    assert len(labels) == 5 and all(label.startswith("class ") for label in labels)
    app.switch_page("pages/activation-explorer.py").run()
    assert_healthy(app)
    assert app.selectbox(key=f"explorer_layer_{choice.value}").value == "conv1"
    app.switch_page("pages/grad-cam.py").run()
    assert_healthy(app)
    assert app.selectbox(key=f"gradcam_layer_{choice.value}").value == "conv4_relu"


def test_hostile_model_upload_is_one_sentence_and_keeps_the_previous_model(app, tmp_path):
    path = hostile_models.lambda_keras(tmp_path)
    hostile_models.MARKER.unlink(missing_ok=True)
    _upload_model(app, "evil.keras", path.read_bytes())
    assert_healthy(app)
    assert "Lambda layer, which runs arbitrary code" in app.sidebar.error[0].value
    assert app.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"
    assert chart_labels(app)[0].startswith(CAT_LABELS)
    assert not hostile_models.MARKER.exists()


def test_hostile_upload_after_a_good_one_keeps_the_good_one(app, tiny_model_file, tmp_path):
    _upload_model(app, "tiny.keras", tiny_model_file)
    good = app.sidebar.selectbox(key="model_choice").value
    _upload_model(app, "bomb.keras", hostile_models.zip_bomb_declared(tmp_path).read_bytes())
    assert_healthy(app)
    assert "zip bomb" in app.sidebar.error[0].value
    assert app.sidebar.selectbox(key="model_choice").value == good
    assert chart_labels(app)[0].startswith("class ")


@pytest.fixture
def one_session_per_app_test(monkeypatch):
    """Give every AppTest its own session id, as the server gives every browser tab.

    AppTest runs all instances under the one id "test session id", so without this two AppTests
    would share session-scoped caches, which two real sessions never do.
    """
    from streamlit.runtime.caching import cache_resource_api
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    def session_id_of_this_app_test() -> str:
        context = get_script_run_ctx()
        return f"{context.session_id}-{id(context.session_state._state)}"

    monkeypatch.setattr(cache_resource_api, "get_session_id_or_throw", session_id_of_this_app_test)


def test_uploaded_model_stays_in_its_own_session(tiny_model_file, one_session_per_app_test):
    first = AppTest.from_file(APP, default_timeout=180).run()
    _upload_model(first, "tiny.keras", tiny_model_file)
    name = first.sidebar.selectbox(key="model_choice").value
    assert name.startswith("upload:")
    second = AppTest.from_file(APP, default_timeout=180).run()
    assert name not in second.sidebar.selectbox(key="model_choice").options
    second.session_state["active_model"] = name  # even told the name, the other session cannot reach the model
    second.run()
    assert_healthy(second)
    assert "no longer loaded in this session" in second.sidebar.error[0].value
    assert chart_labels(second)[0].startswith(CAT_LABELS)
    first.run()
    assert chart_labels(first)[0].startswith("class ")
