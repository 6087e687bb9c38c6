"""Streamlit's caches around vizcore calls: the only vizcore module that imports streamlit.

Thread safety. Streamlit runs every session's script in its own thread, and
``st.cache_resource`` hands each of them the same LoadedModel. vizcore never mutates a shared
model (methods that need a modified model build their own copy), and every call into the Keras
model takes a turn on ``LoadedModel.lock``: per batch of quick requests (batched across
sessions) or per optimisation step, never around a whole long run, so several sessions interleave
fairly on one model (vizcore/models/batching.py); TensorFlow still uses all cores inside each call.

Results go through ``st.cache_data`` (a pickled copy per reader), keyed by model name, image
hash and parameters; the pixels themselves are passed unhashed (``_pixels``) next to their hash.

Uploaded models live per session (``st.cache_resource(scope="session")``): no other session can
reach them. Their names (``upload:`` + a digest of the file, the preprocessing and the class
names) key the shared result caches, so only an identical upload shares results. Every cached
function finds its model through ``model_for(name)``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict

import numpy as np
import streamlit as st

from vizcore import activations, attribution, filters, images, models, predictions, serving
from vizcore.device import device_summary
from vizcore.errors import VizcoreError
from vizcore.models.batching import limit_malloc_arenas

limit_malloc_arenas()  # before any session's thread starts: their memory then comes back after a burst


@st.cache_resource(show_spinner=False, max_entries=3)
def shared_model(name: str) -> models.LoadedModel:
    """The process-wide model, traced once on a blank image so no user's first request pays for it."""
    return _warmed_up(models.load_model(name))


def _warmed_up(loaded: models.LoadedModel) -> models.LoadedModel:
    """Trace the model once on a blank image, so no user's first request pays for it."""
    size = loaded.spec.input_size
    predictions.class_probabilities(loaded, np.zeros((size, size, 3), np.uint8))
    return loaded


_NOT_IN_THIS_SESSION = "Your uploaded model is no longer loaded in this session: upload the file again."


# One uploaded model per session (the active one): a new upload replaces it, a refused one does not.
@st.cache_resource(show_spinner=False, scope="session", max_entries=1)
def _session_user_model(name: str, _upload: models.UserModelUpload | None) -> models.LoadedModel:
    if _upload is None or _upload.model_name != name:
        raise VizcoreError(_NOT_IN_THIS_SESSION)
    return _warmed_up(models.load_user_model(_upload))


def load_user_model(upload: models.UserModelUpload) -> str:
    """Check and load a user's model into this session only; returns its name for ``model_for``.

    Raises VizcoreError with one sentence when the file is refused.
    """
    name = upload.model_name
    _session_user_model(name, upload)
    return name


def model_for(name: str) -> models.LoadedModel:
    """The model behind a name: this session's uploaded model for ``upload:`` names, else the shared one."""
    if models.is_user_model(name):
        return _session_user_model(name, None)
    return shared_model(name)


@st.cache_resource(show_spinner=False)
def cached_device_summary() -> str:
    """The sidebar's "Computing on:" line, worked out once per server process and written to its log."""
    summary = device_summary()
    print(f"  vizcore computes on: {summary}", file=sys.stderr, flush=True)  # the server log, not a script's stdout
    return summary


@st.cache_data(show_spinner=False, max_entries=32)
def sample_image(name: str) -> images.PreparedImage:
    return images.prepare_image(images.load_sample(name))


@st.cache_data(show_spinner=False, max_entries=16)
def uploaded_image(data: bytes) -> images.PreparedImage:
    return images.prepare_image(images.decode_image(data))


@st.cache_data(show_spinner=False, max_entries=256)
def top_predictions(
    model_name: str, image_key: str, _pixels: np.ndarray, top_k: int
) -> tuple[list[predictions.Prediction], float]:
    """The top-k predictions (at most as many as the model has classes) and the seconds the model took."""
    model = model_for(model_name)  # loaded before the clock starts: the figure is the model's time alone
    top_k, remote = min(top_k, len(model.class_names)), serving.remote_backend(model_name)
    start = time.perf_counter()
    if remote is not None:
        return remote.top_predictions(model_name, _pixels, top_k), time.perf_counter() - start
    result = predictions.top_predictions(model, _pixels, top_k)
    return result, time.perf_counter() - start


@st.cache_data(show_spinner=False, max_entries=64)
def layer_activations(model_name: str, image_key: str, _pixels: np.ndarray, layer_name: str) -> np.ndarray:
    return activations.layer_activations(model_for(model_name), _pixels, layer_name)


class ResultStore:
    """A small thread-safe LRU of finished results, shared by every session.

    For long runs with live previews, which ``st.cache_data`` cannot wrap: the page looks a
    result up by its parameters and stores it once the run completes (never a stopped run).
    """

    def __init__(self, max_entries: int):
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key):
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


@st.cache_resource(show_spinner=False)
def result_store(name: str) -> ResultStore:
    """Finished long runs of one kind (``name``: filters, dream, style), keyed by their request."""
    return ResultStore(max_entries=32)


@st.cache_data(show_spinner=False, max_entries=32)
def fast_styled(image_key: str, _pixels: np.ndarray, styles: tuple[int, ...], weights: tuple[float, ...], size: int):
    """The image painted by the fast style network (a FastStyledImage; its time is that of the first computation)."""
    from vizcore import fast_style

    return fast_style.fast_style(_pixels, list(styles), list(weights), fast_style.FastStyleSettings(size=size))


@st.cache_data(show_spinner=False, max_entries=32)
def fast_styled_from_images(image_key: str, _pixels: np.ndarray, style_keys: tuple[str, ...], _style_images: list,
                            weights: tuple[float, ...], size: int, names: tuple[str, ...]):
    """The image painted by the arbitrary-style networks in the style images (keyed by their content hashes)."""
    from vizcore import fast_style

    return fast_style.fast_style_from_images(_pixels, _style_images, list(weights),
                                             fast_style.FastStyleSettings(size=size), list(names))


@st.cache_data(show_spinner=False, max_entries=8)
def fast_style_sheet(image_key: str, _pixels: np.ndarray) -> np.ndarray:
    """The image in each of the fast network's 26 styles, small (26 x H x W x 3 uint8)."""
    from vizcore import fast_style

    return fast_style.style_sheet(_pixels)


@st.cache_data(show_spinner=False, max_entries=32)
def layer_channel_count(model_name: str, layer: str) -> int:
    return filters.layer_channel_count(model_for(model_name), layer)


@st.cache_data(show_spinner=False, max_entries=64)
def class_probabilities(model_name: str, image_key: str, _pixels: np.ndarray) -> np.ndarray:
    remote = serving.remote_backend(model_name)
    if remote is not None:
        return remote.class_probabilities(model_name, _pixels)
    return predictions.class_probabilities(model_for(model_name), _pixels)


@st.cache_data(show_spinner=False, max_entries=8)
def cam_layers(model_name: str) -> tuple[list[str], str]:
    """The layers a CAM can use (nested models opened up) and the default one."""
    model = model_for(model_name)
    return attribution.spatial_layer_names(model), attribution.default_cam_layer(model)


@st.cache_data(show_spinner=False, max_entries=128)
def attribution_map(
    model_name: str, image_key: str, _pixels: np.ndarray, method: str, class_index: int, layer: str | None, options: dict
) -> attribution.AttributionMap:
    remote = serving.remote_backend(model_name)
    if remote is not None:
        return remote.explain(model_name, _pixels, method, class_index, layer, **options)
    return attribution.explain(model_for(model_name), _pixels, method, class_index, layer, **options)


@st.cache_data(show_spinner=False, max_entries=128)
def faithfulness_curves(
    model_name: str, image_key: str, _pixels: np.ndarray, method: str, class_index: int, layer: str | None, options: dict
) -> attribution.FaithfulnessCurves:
    result = attribution_map(model_name, image_key, _pixels, method, class_index, layer, options)
    return attribution.faithfulness(model_for(model_name), _pixels, result.values, class_index)


@st.cache_data(show_spinner=False, max_entries=128)
def faithfulness_curves_of(
    model_name: str, image_key: str, _pixels: np.ndarray, method: str, class_index: int, layer: str | None,
    options: dict, _values: np.ndarray,
) -> attribution.FaithfulnessCurves:
    """The curves of a map computed outside ``attribution_map`` (a page's live run), keyed by the map's request."""
    return attribution.faithfulness(model_for(model_name), _pixels, _values, class_index)


@st.cache_data(show_spinner=False, max_entries=32)
def sanity_check(
    model_name: str, image_key: str, _pixels: np.ndarray, method: str, class_index: int, layer: str | None,
    contrast_class: int | None, options: dict, _original: attribution.AttributionMap,
) -> attribution.SanityCheck:
    """The randomisation sanity check of a map the page already shows (``_original``), keyed by the map's request."""
    return attribution.sanity_check(model_for(model_name), _pixels, method, class_index, layer, contrast_class,
                                    original=_original, **options)


# Dataset indexes (vizcore/datasets/). An index on disk is shared by every session; ``built`` (its
# manifest's modification time) is in every key, so an index rebuilt in the same folder is read again.
@st.cache_data(show_spinner=False, max_entries=16)
def model_digest(model_name: str) -> str:
    from vizcore.datasets.index import model_digest as digest_of

    return digest_of(model_for(model_name))


@st.cache_data(show_spinner=False, max_entries=8)
def index_rows(index_dir: str, built: float):
    """The index's rows as a pandas DataFrame: path, label, predicted, label_index, correct, and the top class's
    index (``top_class``) and probability (``probability``, 0-1)."""
    from vizcore.datasets.index import read_images

    table = read_images(index_dir, columns=["path", "label", "predicted", "label_index", "correct", "top_classes",
                                            "top_probabilities"])
    rows = table.drop_columns(["top_classes", "top_probabilities"]).to_pandas()
    for name, column in (("top_class", "top_classes"), ("probability", "top_probabilities")):
        values = table[column].combine_chunks()
        rows[name] = values.flatten().to_numpy().reshape(len(rows), values.type.list_size)[:, 0]
    return rows


@st.cache_resource(show_spinner=False, max_entries=4)
def neighbour_index(index_dir: str, built: float):
    from vizcore.datasets.neighbours import NeighbourIndex

    return NeighbourIndex(index_dir)


@st.cache_data(show_spinner=False, max_entries=32)
def dataset_neighbours(model_name: str, image_key: str, _pixels: np.ndarray, index_dir: str, built: float, k: int):
    """The ``k`` index images closest to the image (cosine, in the index's embedding space), closest first."""
    index = neighbour_index(index_dir, built)
    return index.nearest(index.embed(model_for(model_name), _pixels), k)


@st.cache_data(show_spinner=False, max_entries=16)
def embedding_map(index_dir: str, built: float, method: str, seed: int) -> np.ndarray:
    """The index's embeddings projected to N x 2 float32 (vizcore.datasets.projection)."""
    from vizcore.datasets.projection import project

    return project(neighbour_index(index_dir, built).search.exact, method, seed)


@st.cache_data(show_spinner=False, max_entries=8)
def index_disagreements(first_dir: str, first_built: float, second_dir: str, second_built: float):
    """The images of two indexes of one dataset whose top classes differ (vizcore.comparison)."""
    from vizcore.comparison import index_disagreements as disagreements

    return disagreements(first_dir, second_dir)


@st.cache_resource(show_spinner=False, max_entries=4)
def _dataset_source(location: str):
    from vizcore.datasets.sources import open_source

    return open_source(location), threading.Lock()  # a zip's reader is one file position: one read at a time


@st.cache_data(show_spinner=False, max_entries=64)
def dataset_image(location: str, path: str) -> images.PreparedImage:
    """One image of the dataset at ``location`` (``path`` as the index stores it). Raises VizcoreError."""
    from vizcore.datasets.sources import ImageFile, Skipped

    source, lock = _dataset_source(location)
    with lock:
        pixels = source.decode(ImageFile(path, None))
    if isinstance(pixels, Skipped):
        raise VizcoreError(f"{path} can no longer be read from the dataset: {pixels.reason}")
    return images.prepare_image(pixels)


@st.cache_data(show_spinner=False, max_entries=512)
def dataset_model_view(location: str, path: str, size: int) -> np.ndarray:
    """One dataset image as the model sees it (size x size uint8 RGB), for grids."""
    return images.fit_to_model(dataset_image(location, path).pixels, size)


@st.cache_data(show_spinner=False, max_entries=32)
def dataset_patches(index_dir: str, built: float, layer: str, channel: int, k: int):
    """The top-``k`` patches of ``layer``'s ``channel`` and their grid picture (uint8 RGB)."""
    from vizcore.datasets.patches import patch_grid, top_patches

    patches = top_patches(index_dir, layer, channel, k)
    return patches, patch_grid(index_dir, patches)


@st.cache_resource(show_spinner=False, max_entries=64)
def index_build_lock(index_dir: str) -> threading.Lock:
    """One build at a time per index folder, across sessions."""
    return threading.Lock()
