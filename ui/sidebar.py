"""The shared sidebar: the model and the image every page works on.

The sidebar is drawn by app.py on every run, before the page, so its widgets keep their values
across page switches. The active choices live in ``st.session_state`` under the keys below; a
model that fails to load, a model file that is refused or an image that fails to decode leaves
the previous choice in place. A model file the user uploads is loaded for this session only and
joins the model picker as "Your model: <file name>". "Compare with…" picks a second model (off by
default) that Predictions and Grad-CAM set beside the first (ui/model_comparison.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from vizcore import cached, images, models
from vizcore.errors import VizcoreError
from vizcore.models.user_model import shown

MODEL_CHOICE = "model_choice"
ACTIVE_MODEL = "active_model"
MODEL_ERROR = "model_error"
IMAGE_SOURCE = "image_source"
SAMPLE_CHOICE = "sample_choice"
UPLOAD = "image_upload"
ACTIVE_UPLOAD = "active_upload"
SOURCE_SAMPLE = "Sample photo"
SOURCE_UPLOAD = "Upload"
SAMPLE_PREFIX = "sample:"  # a sample photo's image name is this and the sample's name
COMPARE_CHOICE = "compare_model"  # the second model's name ("" when off)
COMPARE_OFF = ""
COMPARE_HELP = (
    "A second model to set beside the first on the Predictions and Grad-CAM pages, on the same image: for "
    "example your fine-tuned model against the embedded one. Off by default."
)
SOURCE_DATASET = "Dataset image"  # offered once the Dataset explorer has put an image here
DATASET_IMAGE = "dataset_image_choice"  # (name, PreparedImage) of the dataset image chosen in this session
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
REGISTRY_MODEL = "registry_model"  # the last registry model in use: where removing an uploaded model returns
USER_MODEL = "user_model"  # (name, display name) of the model file loaded in this session
MODEL_FILE = "user_model_file"
MODEL_PREPROCESSING = "user_model_preprocessing"
MODEL_CLASS_NAMES = "user_model_class_names"
MODEL_FILE_TYPES = ["keras", "h5", "hdf5", "zip"]  # zip: so a zipped SavedModel gets its explanation
CLASS_NAMES_TYPES = ["txt", "json"]
PREPROCESSING_HELP = (
    "How the model expects its input pixels. 0-1: images divided by 255. -1..1: MobileNet, Inception and "
    "Xception style. caffe: VGG and ResNet style (BGR, ImageNet mean subtracted). torch: ImageNet mean/std. "
    "none: raw 0-255, for models that start with their own Rescaling or Normalization layer."
)
NEEDS_DOWNLOAD = "(downloads weights)"  # short: the sidebar's picker clips longer entries
MODEL_HELP = (
    "Every page uses this model. A model marked (downloads weights) fetches its ImageNet weights from "
    "the network the first time it is chosen, into the Keras cache; offline, the current model stays."
)
MODEL_FILE_HELP = (
    "A model saved with Keras (model.save('model.keras'), or legacy .h5), up to 200 MB, loaded for your "
    "session only. It is checked before loading: only built-in Keras image layers are allowed, so Lambda "
    "layers, custom objects, TFSMLayer, TorchModuleWrapper, file vocabularies, HDF5 external links, zip "
    "bombs and SavedModels are refused."
)


@dataclass(frozen=True)
class Selection:
    """The model and image every page works on."""

    model_name: str
    image_name: str
    pixels: np.ndarray  # H x W x 3 uint8 RGB
    image_key: str  # content hash, the cache key for results
    compare_name: str | None = None  # the second model ("Compare with…"), None when off

    @property
    def model(self) -> models.LoadedModel:
        return cached.model_for(self.model_name)

    def parameters(self, **extra) -> dict:
        """The record of what produced a result, saved next to every download."""
        return {"model": self.model_name, "image": self.image_name, "image_sha1": self.image_key, **extra}


def _model_name(name: str) -> str:
    if models.is_user_model(name):
        return f"Your model: {st.session_state[USER_MODEL][1]}"
    return models.get_spec(name).display_name


def _model_label(name: str) -> str:
    """The picker's entry: the model's name, marked when choosing it means a download (which fails offline)."""
    if models.is_user_model(name) or models.weights_available_offline(models.get_spec(name)):
        return _model_name(name)
    return f"{_model_name(name)} {NEEDS_DOWNLOAD}"


def _load_chosen_model() -> None:
    choice = st.session_state[MODEL_CHOICE]
    try:
        with st.spinner(f"Loading {_model_name(choice)}…"):
            cached.model_for(choice)
    except VizcoreError as error:
        st.session_state[MODEL_ERROR] = str(error)
        st.session_state[MODEL_CHOICE] = st.session_state.get(ACTIVE_MODEL, models.DEFAULT_MODEL)
        return
    st.session_state[ACTIVE_MODEL] = choice
    if not models.is_user_model(choice):
        st.session_state[REGISTRY_MODEL] = choice


def use_model(name: str) -> None:
    """Choose and load model ``name``, as the model picker does (a failure keeps the model in use and says why)."""
    st.session_state[MODEL_CHOICE] = name
    _load_chosen_model()


def _compare_picker(model_name: str) -> str | None:
    """The second model ("Compare with…", off by default), loaded; None when off, the same model or unavailable.

    Loaded before the picker is drawn, so that a model that fails to load (offline, or an uploaded
    model this session no longer has) turns the picker back off and says why, once.
    """
    choice = st.session_state.setdefault(COMPARE_CHOICE, COMPARE_OFF)
    if models.is_user_model(choice) and st.session_state.get(USER_MODEL, ("",))[0] != choice:
        st.session_state[COMPARE_CHOICE] = COMPARE_OFF  # the uploaded model was removed or replaced
    elif choice != COMPARE_OFF:
        try:
            with st.spinner(f"Loading {_model_name(choice)}…"):
                cached.model_for(choice)
        except VizcoreError as error:
            st.session_state[COMPARE_CHOICE] = COMPARE_OFF
            st.sidebar.error(str(error))
    choices = [COMPARE_OFF, *models.MODELS] + ([st.session_state[USER_MODEL][0]] if USER_MODEL in st.session_state else [])
    labels = {name: _model_label(name) for name in choices[1:]}
    choice = st.sidebar.selectbox("Compare with…", choices, key=COMPARE_CHOICE,
                                  format_func=lambda name: labels.get(name, "Off"), help=COMPARE_HELP)
    if choice == model_name:
        st.sidebar.caption("That is the model in use: choose another one to compare with.")
        return None
    return None if choice == COMPARE_OFF else choice


def _forget_user_model() -> None:
    """Drop the session's uploaded model from the picker; if it was in use, go back to the registry model."""
    user_model = st.session_state.pop(USER_MODEL, None)
    if user_model and st.session_state.get(ACTIVE_MODEL) == user_model[0]:
        fallback = st.session_state.get(REGISTRY_MODEL, models.DEFAULT_MODEL)
        st.session_state[ACTIVE_MODEL] = st.session_state[MODEL_CHOICE] = fallback


def _load_model_file() -> None:
    """Check and load the uploaded model file (on any change of file, preprocessing or class names) and use it."""
    upload = st.session_state.get(MODEL_FILE)
    if upload is None:  # the user removed the file
        _forget_user_model()
        return
    class_names = st.session_state.get(MODEL_CLASS_NAMES)
    request = models.UserModelUpload(
        data=upload.getvalue(),
        file_name=upload.name,
        preprocessing=st.session_state.get(MODEL_PREPROCESSING, models.USER_PREPROCESSING[0]),
        class_names_data=None if class_names is None else class_names.getvalue(),
        class_names_file=None if class_names is None else class_names.name,
    )
    try:
        with st.spinner("Checking and loading your model…"):
            name = cached.load_user_model(request)
    except VizcoreError as error:
        st.session_state[MODEL_ERROR] = f"{shown(upload.name)}: {error}"  # the previous model stays in use
        return
    st.session_state[USER_MODEL] = (name, cached.model_for(name).spec.display_name)
    st.session_state[ACTIVE_MODEL] = st.session_state[MODEL_CHOICE] = name


def _check_user_model_still_loaded() -> None:
    """An uploaded model lives in its session only, and can be dropped (after a reconnect): then fall back."""
    active = st.session_state[ACTIVE_MODEL]
    for name in {active, st.session_state.get(USER_MODEL, ("",))[0]}:
        if not models.is_user_model(name):
            continue
        try:
            cached.model_for(name)
        except VizcoreError as error:
            st.session_state.pop(USER_MODEL, None)
            if name == active:
                st.session_state[ACTIVE_MODEL] = st.session_state[MODEL_CHOICE] = st.session_state[REGISTRY_MODEL]
            st.session_state[MODEL_ERROR] = str(error)


def _model_picker() -> str:
    st.session_state.setdefault(ACTIVE_MODEL, models.DEFAULT_MODEL)
    st.session_state.setdefault(REGISTRY_MODEL, models.DEFAULT_MODEL)
    _check_user_model_still_loaded()
    st.session_state.setdefault(MODEL_CHOICE, st.session_state[ACTIVE_MODEL])
    choices = list(models.MODELS) + ([st.session_state[USER_MODEL][0]] if USER_MODEL in st.session_state else [])
    labels = {name: _model_label(name) for name in choices}  # fixed now: format_func may be called after the run
    st.sidebar.selectbox("Model", choices, key=MODEL_CHOICE, format_func=labels.get, on_change=_load_chosen_model,
                         help=MODEL_HELP)
    if MODEL_ERROR in st.session_state:
        st.sidebar.error(st.session_state.pop(MODEL_ERROR))
    return st.session_state[ACTIVE_MODEL]


def _image_picker() -> tuple[str, images.PreparedImage]:
    sources = [SOURCE_SAMPLE, SOURCE_UPLOAD] + ([SOURCE_DATASET] if DATASET_IMAGE in st.session_state else [])
    source = st.sidebar.radio("Image", sources, key=IMAGE_SOURCE, horizontal=True)
    if source == SOURCE_DATASET:
        return st.session_state[DATASET_IMAGE]
    if source == SOURCE_UPLOAD:
        upload = st.sidebar.file_uploader(
            "Image file", type=UPLOAD_TYPES, key=UPLOAD, help="JPEG, PNG, WebP, BMP, GIF or TIFF."
        )
        if upload is None:
            st.session_state.pop(ACTIVE_UPLOAD, None)  # the user removed the file
            st.sidebar.info("No image uploaded yet: using the sample photo below.")
        else:
            try:
                st.session_state[ACTIVE_UPLOAD] = (upload.name, cached.uploaded_image(upload.getvalue()))
            except VizcoreError as error:
                # Only the error: the image in use (the previous upload or the sample) is captioned below.
                st.sidebar.error(f"{upload.name}: {error}")
        if ACTIVE_UPLOAD in st.session_state:
            return st.session_state[ACTIVE_UPLOAD]
    name = st.sidebar.selectbox("Sample photo", images.SAMPLE_NAMES, key=SAMPLE_CHOICE)
    return f"{SAMPLE_PREFIX}{name}", cached.sample_image(name)


def _model_file_picker() -> None:
    """The expander for the user's own model: file, preprocessing, optional class names."""
    with st.sidebar.expander("Your own model (.keras / .h5)"):
        st.file_uploader("Model file", type=MODEL_FILE_TYPES, key=MODEL_FILE, on_change=_load_model_file, help=MODEL_FILE_HELP)
        st.selectbox(
            "Input preprocessing", models.USER_PREPROCESSING, key=MODEL_PREPROCESSING, on_change=_load_model_file,
            format_func=lambda name: models.PREPROCESSING[name].description, help=PREPROCESSING_HELP,
        )
        st.file_uploader(
            "Class names (optional)", type=CLASS_NAMES_TYPES, key=MODEL_CLASS_NAMES, on_change=_load_model_file,
            help="A .txt file with one name per line, or a .json list (or index -> name map), in output order.",
        )
        if USER_MODEL in st.session_state:
            loaded = cached.model_for(st.session_state[USER_MODEL][0]).spec
            st.caption(f"Loaded for this session: {loaded.display_name}, {loaded.input_size} px input.")


def render_sidebar() -> Selection:
    """Draw the shared sidebar and store the resulting Selection for the page."""
    st.sidebar.title("vizcore")
    model_name = _model_picker()
    compare_name = _compare_picker(model_name)
    image_name, image = _image_picker()
    height, width = image.pixels.shape[:2]
    st.sidebar.image(image.preview, caption=f"{image_name} · {width}×{height}", width="stretch")
    # Below the image picker, so that the image uploader stays the sidebar's first file uploader.
    _model_file_picker()
    st.sidebar.caption(f"Computing on: {cached.cached_device_summary()}")
    selection = Selection(model_name, image_name, image.pixels, image.key, compare_name)
    st.session_state["selection"] = selection
    return selection


def use_dataset_image(name: str, image: images.PreparedImage) -> None:
    """Make a dataset image the sidebar's image; call from a widget callback, which runs before the sidebar is drawn."""
    st.session_state[DATASET_IMAGE] = (name, image)
    st.session_state[IMAGE_SOURCE] = SOURCE_DATASET


def current_selection() -> Selection:
    """The sidebar's Selection for this run (app.py draws the sidebar before the page)."""
    return st.session_state["selection"]
