"""What every page shares: the sidebar choices (model, image) and a few layout pieces.

The sidebar is drawn by app.py on every run, before the page, so its widgets keep their values
across page switches. The active choices live in ``st.session_state`` under the keys below; a
model that fails to load or an upload that fails to decode leaves the previous choice in place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import streamlit as st

from vizcore import cached, images, models
from vizcore.errors import VizcoreError

MODEL_CHOICE = "model_choice"
ACTIVE_MODEL = "active_model"
MODEL_ERROR = "model_error"
IMAGE_SOURCE = "image_source"
SAMPLE_CHOICE = "sample_choice"
UPLOAD = "image_upload"
ACTIVE_UPLOAD = "active_upload"
SOURCE_SAMPLE = "Sample photo"
SOURCE_UPLOAD = "Upload"
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]


# Page widgets whose values should survive a visit to another page. Streamlit drops a widget's
# state on any run that does not draw it; writing it back each run keeps it. Buttons and
# download buttons cannot be written, so their keys end in one of the excluded suffixes.
REMEMBERED_PREFIXES = ("explorer_", "filters_", "saliency_", "gradcam_", "dream_", "style_")
NOT_REMEMBERED_SUFFIXES = ("_run", "_stop", "_png", "_npy", "_json", "_chart", "_compared", "_partial", "_uploads")


def remember_page_settings() -> None:
    for key in list(st.session_state):
        if str(key).startswith(REMEMBERED_PREFIXES) and not str(key).endswith(NOT_REMEMBERED_SUFFIXES):
            st.session_state[key] = st.session_state[key]


@dataclass(frozen=True)
class Selection:
    """The model and image every page works on."""

    model_name: str
    image_name: str
    pixels: np.ndarray  # H x W x 3 uint8 RGB
    image_key: str  # content hash, the cache key for results

    @property
    def model(self) -> models.LoadedModel:
        return cached.shared_model(self.model_name)

    def parameters(self, **extra) -> dict:
        """The record of what produced a result, saved next to every download."""
        return {"model": self.model_name, "image": self.image_name, "image_sha1": self.image_key, **extra}


def _model_label(name: str) -> str:
    spec = models.get_spec(name)
    if models.weights_available_offline(spec):
        return spec.display_name
    return f"{spec.display_name} (downloads weights)"


def _load_chosen_model() -> None:
    choice = st.session_state[MODEL_CHOICE]
    try:
        with st.spinner(f"Loading {models.get_spec(choice).display_name}…"):
            cached.shared_model(choice)
    except VizcoreError as error:
        st.session_state[MODEL_ERROR] = str(error)
        st.session_state[MODEL_CHOICE] = st.session_state.get(ACTIVE_MODEL, models.DEFAULT_MODEL)
        return
    st.session_state[ACTIVE_MODEL] = choice


def _model_picker() -> str:
    st.session_state.setdefault(ACTIVE_MODEL, models.DEFAULT_MODEL)
    st.session_state.setdefault(MODEL_CHOICE, st.session_state[ACTIVE_MODEL])
    st.sidebar.selectbox(
        "Model", list(models.MODELS), key=MODEL_CHOICE, format_func=_model_label, on_change=_load_chosen_model
    )
    if MODEL_ERROR in st.session_state:
        st.sidebar.error(st.session_state.pop(MODEL_ERROR))
    return st.session_state[ACTIVE_MODEL]


def _image_picker() -> tuple[str, images.PreparedImage]:
    source = st.sidebar.radio("Image", [SOURCE_SAMPLE, SOURCE_UPLOAD], key=IMAGE_SOURCE, horizontal=True)
    if source == SOURCE_UPLOAD:
        upload = st.sidebar.file_uploader(
            "Image file", type=UPLOAD_TYPES, key=UPLOAD, help="JPEG, PNG, WebP, BMP, GIF or TIFF."
        )
        if upload is None:
            st.session_state.pop(ACTIVE_UPLOAD, None)  # the user removed the file
        else:
            try:
                st.session_state[ACTIVE_UPLOAD] = (upload.name, cached.uploaded_image(upload.getvalue()))
            except VizcoreError as error:
                st.sidebar.error(f"{upload.name}: {error}")  # the previous image stays in use
        if ACTIVE_UPLOAD in st.session_state:
            return st.session_state[ACTIVE_UPLOAD]
        st.sidebar.info("No image uploaded yet: using the sample photo below.")
    name = st.sidebar.selectbox("Sample photo", images.SAMPLE_NAMES, key=SAMPLE_CHOICE)
    return f"sample:{name}", cached.sample_image(name)


def render_sidebar() -> Selection:
    """Draw the shared sidebar and store the resulting Selection for the page."""
    st.sidebar.title("vizcore")
    model_name = _model_picker()
    image_name, image = _image_picker()
    height, width = image.pixels.shape[:2]
    st.sidebar.image(image.preview, caption=f"{image_name} · {width}×{height}", width="stretch")
    st.sidebar.caption(f"Computing on: {cached.cached_device_summary()}")
    selection = Selection(model_name, image_name, image.pixels, image.key)
    st.session_state["selection"] = selection
    return selection


def current_selection() -> Selection:
    """The sidebar's Selection for this run (app.py draws the sidebar before the page)."""
    return st.session_state["selection"]


def page_intro(title: str, what_it_shows: str, how_to_read: str) -> None:
    st.title(title)
    st.markdown(f"{what_it_shows} {how_to_read}")


def json_download(label: str, payload: dict, file_name: str, key: str) -> None:
    st.download_button(label, json.dumps(payload, indent=2), file_name=file_name, mime="application/json", key=key)
