"""Links that reopen a view: the page's settings live in the URL's query string, and a link restores them.

Every run ends by writing the view into the URL (``st.query_params``): the sidebar's sample photo,
model and second model as ``image``, ``model`` and ``compare``, then every page setting the page
drew in this run, under its widget key (the page itself is the URL's path). So a page gets its
link for free: a page setting is a widget whose key ui/navigation.py remembers across page
switches (``is_page_setting``). In a key, the model's name and the image's digest, which pages add
so that a choice does not outlive its model or image, are written ``.model`` and ``.image``:
``gradcam_layer.model=head_relu&gradcam_first.model.image=285``. Values are JSON (``0.5``,
``true``, ``["a","b"]``), except that a plain word stays bare (``gradcam_method=gradcam``).

Opening a link (a session's first run) restores the sidebar first, then gives every page setting
of the link its value before the page draws its widgets. The widgets check the values: a value
they refuse (an unknown layer, a class out of range) leaves the default, and a setting the page
did not draw is ignored and removed again (only widgets take values from a link, and never a key
the app already holds); each says so in one line above the page. A value a widget raises on (a
slider value out of range) makes that run start again without the link's page settings.
Uploaded images and models stay in their session: a link opens with the sample photo and the
default model instead, and the "Copy link" popover says so.

The URL and "Copy link" are written after the page, so a page that stops early (DeepDream before
its first run, any error) must not end the run first: pages call ``stop_page()``, not ``st.stop()``,
which ends the page only, and ``linked_page`` stops the run once they are written.
"""

from __future__ import annotations

import contextlib
import json
import threading
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui import sidebar
from ui.navigation import is_page_setting
from vizcore import images, models

MODEL_PARAM, IMAGE_PARAM, COMPARE_PARAM = "model", "image", "compare"
MODEL_MARK, IMAGE_MARK = ".model", ".image"
OPENED = "link_opened"  # session key: the link this session started from has been read
PENDING = "link_pending"  # session key: the link's page settings, param -> text, until the page is drawn
ON_TRIAL = "link_on_trial"  # session key: widget key -> (param, value) given from the link in this run
NOTICES = "link_notices"  # session key: (page path, one-line notices about the link), shown above that page


class _PageStopped(BaseException):
    """A page's ``stop_page()`` inside ``linked_page``: a BaseException, so pages' ``except Exception`` let it through."""


# Set while linked_page runs a page, per thread: each session's script runs in a thread of its own.
_linked_page_running = threading.local()


def stop_page() -> None:
    """What a page calls instead of ``st.stop()``: ends the page, and ``linked_page`` still writes the URL and "Copy link".

    Streamlit's own stop refuses every later element and message of the run, and pages stop
    early often (DeepDream before its first run, any error), so within a page it ends the page
    only; ``linked_page`` then finishes and stops the run. Elsewhere it is Streamlit's stop.
    """
    if getattr(_linked_page_running, "active", False):
        raise _PageStopped
    st.stop()


def encode(value) -> str | None:
    """A setting's text in the URL, or None for a value that does not travel (None, tuples, objects)."""
    if isinstance(value, str):
        return value if decode(value) == value else json.dumps(value)
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(item, (str, bool, int, float)) for item in value):
        return json.dumps(value)
    return None


def decode(text: str):
    """The value of a setting's text in the URL: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def param_name(key: str, model_name: str, image_key: str) -> str:
    """A widget key as a URL parameter: the model's name and the image's digest in it become marks."""
    return key.replace(f"_{model_name}", MODEL_MARK).replace(f"_{image_key}", IMAGE_MARK)


def widget_key(param: str, model_name: str, image_key: str) -> str:
    return param.replace(MODEL_MARK, f"_{model_name}").replace(IMAGE_MARK, f"_{image_key}")


def _notice(text: str) -> None:
    """Keep a one-line notice about the link, for the page that this run draws."""
    page, notices = st.session_state.get(NOTICES, (None, []))
    st.session_state[NOTICES] = (page, [*notices, text])


def _restore_sidebar(params: dict[str, str]) -> None:
    """The link's sample photo, model and second model, each checked; an unknown one keeps the default and says so."""
    image = params.get(IMAGE_PARAM)
    if image is not None:
        if image in images.SAMPLE_NAMES:
            st.session_state[sidebar.IMAGE_SOURCE] = sidebar.SOURCE_SAMPLE
            st.session_state[sidebar.SAMPLE_CHOICE] = image
        else:
            _notice(f"The link's image {image!r} is not a sample photo here: showing the default sample.")
    model = params.get(MODEL_PARAM)
    if model is not None and model != models.DEFAULT_MODEL:
        if model in models.MODELS:
            sidebar.use_model(model)  # a model that fails to load says why in the sidebar and keeps the default
        else:
            _notice(f"The link's model {model!r} is not one this server has: showing the default model.")
    compare = params.get(COMPARE_PARAM)
    if compare is not None:
        if compare in models.MODELS:
            st.session_state[sidebar.COMPARE_CHOICE] = compare
        else:
            _notice(f"The link's second model {compare!r} is not one this server has: comparing with none.")


def open_link() -> None:
    """On a session's first run, read the link it was opened with: the sidebar now, page settings for later.

    app.py calls it before drawing the sidebar.
    """
    if st.session_state.get(OPENED):
        return
    st.session_state[OPENED] = True
    params = st.query_params.to_dict()
    _restore_sidebar(params)
    st.session_state[PENDING] = {name: text for name, text in params.items()
                                 if name not in (MODEL_PARAM, IMAGE_PARAM, COMPARE_PARAM)}


def _give_pending_settings(selection: sidebar.Selection) -> None:
    """The link's page settings into session state, before the page draws the widgets that read them."""
    trial = {}
    for param, text in st.session_state.pop(PENDING, {}).items():
        key = widget_key(param, selection.model_name, selection.image_key)
        if not is_page_setting(key) or key in st.session_state:  # the latter: state the app keeps, not a widget's
            _notice(f"The link's setting {param!r} is not a setting of this app: ignored.")
            continue
        value = decode(text)
        st.session_state[key] = value
        trial[key] = (param, value)
    st.session_state[ON_TRIAL] = trial


def _drawn_page_settings() -> list[str]:
    """The page-setting widgets drawn in this run, by key.

    Streamlit has no public list of the widgets a run drew; this is the set it checks duplicate
    keys against (Streamlit 1.67; tests/ui/test_links.py fails if it moves).
    """
    drawn = get_script_run_ctx().shared.widget_user_keys_this_run.snapshot()
    return sorted(key for key in drawn if is_page_setting(key))


def _judge_trial(drawn: list[str]) -> None:
    """One line for each setting of the link that this page did not draw, or whose widget refused its value."""
    for key, (param, value) in st.session_state.pop(ON_TRIAL, {}).items():
        if key not in drawn:
            st.session_state.pop(key, None)  # only widgets take values from a link
            _notice(f"The link's setting {param!r} is not on this page (or not for this model and image): ignored.")
        elif st.session_state.get(key) != value:
            _notice(f"The link's {param}={encode(value)} is not available here: "
                    f"using {encode(st.session_state.get(key))} instead.")


def current_params(selection: sidebar.Selection, drawn: list[str]) -> dict[str, str]:
    """The URL parameters of the view now: sample photo, model, second model, then the page's settings."""
    params = {}
    if selection.image_name.startswith(sidebar.SAMPLE_PREFIX):  # an upload or a dataset image cannot travel
        params[IMAGE_PARAM] = selection.image_name.removeprefix(sidebar.SAMPLE_PREFIX)
    if not models.is_user_model(selection.model_name):
        params[MODEL_PARAM] = selection.model_name
    # The second model travels unless it is an upload, or the default model the link opens with anyway.
    if selection.compare_name is not None and not models.is_user_model(selection.compare_name) and (
            MODEL_PARAM in params or selection.compare_name != models.DEFAULT_MODEL):
        params[COMPARE_PARAM] = selection.compare_name
    for key in drawn:
        name, text = param_name(key, selection.model_name, selection.image_key), encode(st.session_state.get(key))
        # A setting of a model or image that cannot travel would not fit the link's default model or sample.
        if text is not None and (MODEL_MARK not in name or MODEL_PARAM in params) and (
                IMAGE_MARK not in name or IMAGE_PARAM in params):
            params[name] = text
    return params


def link_to(url_path: str, params: dict[str, str]) -> str:
    """The absolute link to page ``url_path`` with ``params`` (relative when the browser's URL is not known)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    path = "/".join(part for part in (base, url_path) if part)
    query = urlencode(params)
    browser_url = st.context.url
    origin = "" if not browser_url else "{0.scheme}://{0.netloc}".format(urlsplit(browser_url))
    return f"{origin}/{path}" + (f"?{query}" if query else "")


def _copy_link_control(link: str, selection: sidebar.Selection) -> None:
    with st.popover("Copy link", icon=":material/link:", width="stretch"):
        st.code(link, language=None, wrap_lines=True)
        st.caption("This link opens this page with these settings: copy it with the icon at the box's corner.")
        if not selection.image_name.startswith(sidebar.SAMPLE_PREFIX):
            st.caption("The image in use is not a sample photo (an upload or a dataset image), so it cannot travel "
                       "in a link: the link opens with the default sample. Send the page's downloads (on the "
                       "attribution pages, its Report: one HTML file with the image) instead.")
        if models.is_user_model(selection.model_name) or (
                selection.compare_name is not None and models.is_user_model(selection.compare_name)):
            st.caption("Your uploaded model cannot travel in a link either: it opens with the default model.")


@contextlib.contextmanager
def linked_page(url_path: str, selection: sidebar.Selection):
    """app.py runs the page inside this: the link's settings go in before it, and the URL and "Copy link" after.

    ``url_path`` is the page's path (``navigation.url_path``). A page that stops early (``stop_page``)
    still gets its URL; a rerun does not need one.
    """
    notice_area, link_area = st.container(), st.sidebar.container()
    _give_pending_settings(selection)
    stopped = False
    _linked_page_running.active = True
    try:
        yield
    except _PageStopped:
        stopped = True
    except Exception:  # not BaseException: Streamlit's rerun signal passes through untouched
        trial = st.session_state.pop(ON_TRIAL, {})
        if not trial:
            raise
        for key in trial:  # a value a widget raised on: the page again, with its own defaults
            st.session_state.pop(key, None)
        _notice("The link's page settings do not fit this page: showing its defaults.")
        st.rerun()
    finally:
        _linked_page_running.active = False
    _finish(url_path, selection, notice_area, link_area)
    if stopped:
        st.stop()


def _finish(url_path: str, selection: sidebar.Selection, notice_area, link_area) -> None:
    drawn = _drawn_page_settings()
    _judge_trial(drawn)
    params = current_params(selection, drawn)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    with link_area:
        _copy_link_control(link_to(url_path, params), selection)
    page, notices = st.session_state.get(NOTICES, (url_path, []))
    if page is None:
        st.session_state[NOTICES] = (url_path, notices)
    elif page != url_path:  # shown until the visitor moves to another page
        st.session_state.pop(NOTICES)
        return
    with notice_area:
        for notice in notices:
            st.info(notice, icon=":material/link_off:")
