"""Links that reopen a view (ui/links.py): the URL follows the page's settings, and a link restores them."""

import os
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from ui.links import decode, encode, param_name, widget_key

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "app.py")
EXPLORER = "pages/activation-explorer.py"


@pytest.mark.parametrize("value", ["gradcam", "gradcam++", "0-15", "5", "true", "null", 285, 0.5, 1.0, True,
                                   ["saliency", "ig"], [1, 2]])
def test_a_setting_reads_back_as_the_same_value_and_type(value):
    text = encode(value)
    assert decode(text) == value and type(decode(text)) is type(value)


def test_plain_words_stay_readable_and_values_that_cannot_travel_are_left_out():
    assert encode("head_relu") == "head_relu" and encode("5") == '"5"'
    assert encode(None) is None and encode(("layer", "0-15")) is None


def test_model_and_image_in_a_key_become_marks_and_back():
    key = "gradcam_first_efficientnet_lite0_abc123"
    assert param_name(key, "efficientnet_lite0", "abc123") == "gradcam_first.model.image"
    assert widget_key("gradcam_first.model.image", "vgg16", "def456") == "gradcam_first_vgg16_def456"


def open_link(page: str, params: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page(page)
    for name, text in params.items():
        at.query_params[name] = text
    return at.run()


def infos(at: AppTest) -> list[str]:
    return [box.value for box in at.main.info]


def sidebar_link(at: AppTest) -> str:
    return at.sidebar.code[0].value


def test_a_link_restores_the_view_and_the_url_follows_the_page():
    at = open_link(EXPLORER, {"image": "coffee", "explorer_layer.model": "head_relu",
                              "explorer_channel_head_relu": "7", "explorer_sort": "index"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox(key="sample_choice").value == "coffee"
    assert at.selectbox(key="explorer_layer_efficientnet_lite0").value == "head_relu"
    assert at.number_input(key="explorer_channel_head_relu").value == 7
    assert at.radio(key="explorer_sort").value == "index"
    assert "64 of 1280" in at.main.get("image")[0].proto.imgs[0].caption and not infos(at)

    at.slider(key="explorer_opacity").set_value(0.8).run()  # a change goes into the URL and the copy link
    link = sidebar_link(at)
    assert urlsplit(link).path == "/activation-explorer"
    params = dict(parse_qsl(urlsplit(link).query))
    assert params == dict(at.query_params)  # the same view as the URL
    assert params["explorer_opacity"] == "0.8" and params["explorer_channel_head_relu"] == "7"
    assert params["image"] == "coffee" and params["model"] == "efficientnet_lite0"

    reopened = open_link(EXPLORER, params)  # in a new session: the same view
    assert reopened.slider(key="explorer_opacity").value == 0.8
    assert reopened.number_input(key="explorer_channel_head_relu").value == 7
    assert dict(reopened.query_params) == params


def test_stale_or_bad_settings_fall_back_with_one_line_each():
    at = open_link(EXPLORER, {"model": "resnet9000", "image": "my_holiday.jpg", "explorer_layer.model": "no_such_layer",
                              "explorer_channel_stem_relu": "5000", "explorer_colour": "red", "active_model": "x"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"
    assert at.sidebar.selectbox(key="sample_choice").value == "chelsea"
    assert at.selectbox(key="explorer_layer_efficientnet_lite0").value == "stem_relu"  # the default layer
    assert at.number_input(key="explorer_channel_stem_relu").value < 32
    assert sorted(infos(at)) == sorted([
        "The link's image 'my_holiday.jpg' is not a sample photo here: showing the default sample.",
        "The link's model 'resnet9000' is not one this server has: showing the default model.",
        "The link's setting 'active_model' is not a setting of this app: ignored.",
        "The link's setting 'explorer_colour' is not on this page (or not for this model and image): ignored.",
        f"The link's explorer_channel_stem_relu=5000 is not available here: using "
        f"{at.number_input(key='explorer_channel_stem_relu').value} instead.",
        "The link's explorer_layer.model=no_such_layer is not available here: using stem_relu instead.",
    ])
    assert "explorer_colour" not in at.query_params and at.query_params["explorer_layer.model"] == "stem_relu"
    at.switch_page("pages/predictions.py").run()
    assert not infos(at)  # the notices stay with the page the link opened


def test_a_value_a_widget_refuses_outright_shows_the_page_defaults():
    at = open_link(EXPLORER, {"explorer_opacity": "7", "explorer_sort": "index"})  # the slider's range is 0 to 1
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="explorer_opacity").value == 0.5 and at.radio(key="explorer_sort").value == "mean"
    assert infos(at) == ["The link's page settings do not fit this page: showing its defaults."]


def test_a_page_that_stops_early_still_gets_its_link():
    at = open_link("pages/deep-dream.py", {"dream_octaves": "2"})  # DeepDream stops the run until Dream is pressed
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="dream_octaves").value == 2 and "press Dream" in at.info[0].value
    assert at.query_params["dream_octaves"] == "2"
    assert urlsplit(sidebar_link(at)).path == "/deep-dream" and "dream_octaves=2" in sidebar_link(at)


def test_pages_stop_through_stop_page_so_their_link_is_still_written():
    # st.stop() in a page would end the run before linked_page writes the URL and "Copy link".
    pages = os.path.join(os.path.dirname(APP), "pages")
    stopping = [name for name in sorted(os.listdir(pages))
                if name.endswith(".py") and "st.stop(" in open(os.path.join(pages, name)).read()]
    assert stopping == []
