"""The Dataset explorer's pieces: choosing, building or reopening an index, and the four views over it.

Indexes live under the cache directory (``<cache>/indexes/<key>``), the key a digest of the
dataset (the demo set's folder, a server folder's path, or an uploaded zip's content), the model's
weights digest and the indexed layers, so any session that asks for the same index reopens the one
on disk. Building is per session (Run/Stop, ui/live_run.py), one build per folder at a time; a
stopped build resumes from its last finished shard. Every read of an index goes through
``vizcore.cached``.

A build runs on this server (the local engine) or, when the operator allows it, on Ray: the
operator names the cluster (``RAY_ADDRESS``; unset, a local Ray in this process) and caps the
model workers (``limits.MAX_RAY_ACTORS``); a visitor only chooses the engine and how many workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from ui.layout import json_download
from ui.live_run import live_run
from ui.sidebar import DATASET_IMAGE, Selection, use_dataset_image
from vizcore import cached, images, limits, viz
from vizcore.datasets import demo, ray_engine
from vizcore.datasets.index import IndexSettings, MANIFEST, build_index, default_layers, read_manifest
from vizcore.errors import VizcoreError
from vizcore.models.layers import feature_map_layers

INDEX_FOLDER = "indexes"
UPLOAD_FOLDER = "dataset-uploads"
PAGE_SHARD_SIZE = 32  # images per shard on the page: the progress bar's step, and what a Stop can lose
PAGE_BATCH_SIZE = 16
CELL_IMAGES = 12  # images of one table cell shown with their Grad-CAM
TILE_WIDTH = 150  # CSS px per image in the grids
MAX_NEIGHBOURS = 24
MAX_DISAGREEMENTS_SHOWN = 24  # images in the grid of disagreements; the JSON download has them all
MAP_METHODS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
MAP_COLOURS = plotly.colors.qualitative.Dark24  # 24 distinct colours: a label each in most folders
MAX_MAP_POINTS_SHOWN = 5000  # points drawn in the browser; the NPY download has every point
# A hosted server can keep visitors to some folders: os.pathsep-separated roots; unset, any folder the server can read.
FOLDERS_VARIABLE = "VIZCORE_DATASET_FOLDERS"
# The engines a hosted server offers, comma-separated: "local,ray" adds Ray (when it is installed); unset, local only.
ENGINES_VARIABLE = "VIZCORE_INDEX_ENGINES"
ENGINE_TITLES = {"local": "This server", "ray": "Ray"}
BUILT_ON = {"local": "Server", "ray": "Ray"}  # short enough for a metric in a row of six
# One Ray build per app process: a local Ray is sized for one pool of MAX_RAY_ACTORS workers, and a second
# pool beside it would starve both of CPU for their read tasks (vizcore/datasets/ray_engine.py).
_RAY_BUILDS = threading.Lock()

SOURCE_DEMO = "Demo set"
SOURCE_FOLDER = "Folder on the server"
SOURCE_ZIP = "Zip upload"
SOURCE_REOPEN = "Reopen an index"
SOURCES = [SOURCE_DEMO, SOURCE_FOLDER, SOURCE_ZIP, SOURCE_REOPEN]

PATCH_LAYER = "dataset_patch_layer"
PATCH_CHANNEL = "dataset_patch_channel"
LINK_APPLIED = "link_applied_dataset"  # the ?layer=&channel= link already applied, so it does not undo later choices


@dataclass(frozen=True)
class OpenIndex:
    """A finished index on disk: its folder, when it was finished (the cache key) and its manifest."""

    folder: str
    built: float
    manifest: dict
    source_id: str | None = None  # the dataset as the page chose it (``index_folder``'s key); None when reopened

    @property
    def location(self) -> str:
        return self.manifest["source"]["location"]

    @property
    def layers(self) -> list[str]:
        return self.manifest["settings"]["layers"]

    def title(self) -> str:
        counts = self.manifest.get("counts", {})
        return f"{Path(self.location).name} · {counts.get('images', '?')} images · {', '.join(self.layers) or 'no layers'}"


@dataclass(frozen=True)
class BuildEngine:
    """Where a build runs: ``name`` "local" (this process) or "ray" on ``ray_address`` (None: a local Ray)."""

    name: str = "local"
    ray_address: str | None = None
    ray_actors: int = 1  # model workers, 1 to limits.MAX_RAY_ACTORS


@dataclass(frozen=True)
class BuildProgress:
    step: int  # shards finished
    steps: int


def indexes_root() -> Path:
    return demo.demo_root().parent / INDEX_FOLDER


def index_folder(source_id: str, digest: str, layers) -> Path:
    """Where the index of ``source_id`` by the model with weights ``digest`` over ``layers`` lives."""
    key = hashlib.sha256(json.dumps([source_id, digest, list(layers)]).encode()).hexdigest()[:24]
    return indexes_root() / key


def open_index(folder) -> OpenIndex | None:
    """The finished index in ``folder``, or None when there is none (yet)."""
    try:
        manifest = read_manifest(folder)
        built = os.path.getmtime(Path(folder) / MANIFEST)
    except (VizcoreError, OSError):
        return None
    return OpenIndex(str(folder), built, manifest)


def finished_indexes(digest: str) -> list[OpenIndex]:
    """Every finished index under the cache directory made with the model whose weights have ``digest``, newest first."""
    root = indexes_root()
    found = [open_index(folder) for folder in root.iterdir()] if root.is_dir() else []
    mine = [index for index in found if index is not None and index.manifest["model"]["digest"] == digest]
    return sorted(mine, key=lambda index: -index.built)


def saved_zip(data: bytes) -> Path:
    """An uploaded zip kept under the cache directory by its content's digest (written once, atomically)."""
    folder = indexes_root().parent / UPLOAD_FOLDER
    path = folder / f"{hashlib.sha256(data).hexdigest()[:24]}.zip"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".partial")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    return path


def _layer_picker(selection: Selection) -> list[str]:
    model = selection.model
    available = [info.name for info in feature_map_layers(model)]
    key = f"dataset_layers_{selection.model_name}"
    if key not in st.session_state:
        chosen = list(default_layers(model))
        linked = st.query_params.get("layer")
        if linked in available and linked not in chosen:
            chosen.append(linked)
        st.session_state[key] = [layer for layer in available if layer in chosen]
    with st.expander("Layers to index", expanded=False):
        layers = st.multiselect(
            "Layers whose top patches the index keeps", available, key=key,
            help="Each indexed layer keeps, per channel, the dataset images that excite it most. The default is the "
                 "model's filter-gallery layers.",
        )
    return [layer for layer in available if layer in layers]


def _chosen_source(selection: Selection) -> tuple[Path, str] | OpenIndex | None:
    """The dataset to index (its location and identity), an index to reopen, or None while there is none."""
    source = st.radio("Dataset", SOURCES, key="dataset_source", horizontal=True)
    if source == SOURCE_REOPEN:
        found = finished_indexes(cached.model_digest(selection.model_name))
        if not found:
            st.info("There is no finished index for this model yet: build one from the demo set, a folder or a zip.")
            return None
        by_folder = {index.folder: index for index in found}
        folder = st.selectbox("Index", list(by_folder), format_func=lambda name: by_folder[name].title(),
                              key="dataset_reopen")
        return by_folder[folder]
    if source == SOURCE_DEMO:
        count = st.slider("Demo images per photo", 1, demo.MAX_IMAGES_PER_PHOTO, demo.DEFAULT_IMAGES_PER_PHOTO,
                          key="dataset_demo_per_photo", help="Each image is a crop of one photo, every other one mirrored.")
        with st.spinner("Making the demo set (once)…"):
            made = demo.ensure_demo_set(int(count))
        st.caption(made.description())
        return made.folder, f"demo:{made.folder.name}"
    if source == SOURCE_FOLDER:
        text = st.text_input("Folder on the server", key="dataset_folder", placeholder="/data/photos",
                             help="A folder of images; class subfolders give labels (the ImageFolder layout).")
        if not text.strip():
            st.info("Type the path of an image folder on the server: class subfolders give labels.")
            return None
        location = Path(text.strip()).expanduser().resolve()
        allowed = [Path(root).expanduser().resolve() for root in os.environ.get(FOLDERS_VARIABLE, "").split(os.pathsep)
                   if root.strip()]
        if allowed and not any(location == root or root in location.parents for root in allowed):
            st.error(f"This server indexes folders inside {', '.join(map(str, allowed))} only.")
            return None
        return location, f"folder:{location}"
    upload = st.file_uploader(
        "Zip of an image folder", type=["zip"], key="dataset_zip_uploads",
        help=f"Up to {limits.MAX_DATASET_UPLOAD_BYTES // 2**20} MB; class folders inside give labels. "
             "The zip is checked from its directory before anything is inflated.",
    )
    if upload is None:
        st.info("Upload a zip of an image folder: class subfolders give labels.")
        return None
    if upload.size > limits.MAX_DATASET_UPLOAD_BYTES:
        st.error(f"{upload.name} is {upload.size / 2**20:,.0f} MB, more than the "
                 f"{limits.MAX_DATASET_UPLOAD_BYTES // 2**20} MB this server accepts for a dataset.")
        return None
    data = upload.getvalue()
    return saved_zip(data), f"zip:{hashlib.sha256(data).hexdigest()}"


def ray_allowed() -> bool:
    """The operator offers Ray on this server (``VIZCORE_INDEX_ENGINES`` names it)."""
    return "ray" in {name.strip().lower() for name in os.environ.get(ENGINES_VARIABLE, "").split(",")}


def ray_address() -> str | None:
    """The operator's Ray cluster (``RAY_ADDRESS``), or None for a local Ray in this process."""
    return os.environ.get("RAY_ADDRESS", "").strip() or None


def _engine_picker(prefix: str, model_name: str) -> BuildEngine:
    """The build's engine: Ray is offered only when the operator allows it and it is installed."""
    if not ray_allowed():
        return BuildEngine()
    if not ray_engine.available():
        st.info(f"This index is built on this server. {ray_engine.INSTALL_HINT}")
        return BuildEngine()
    if model_name.startswith("upload:"):
        st.caption("This index is built on this server: Ray's workers load the registry's models, not an uploaded one.")
        return BuildEngine()
    engine = st.radio("Build on", list(ENGINE_TITLES), format_func=ENGINE_TITLES.get, horizontal=True,
                      key=f"{prefix}_engine")
    if engine == "local":
        return BuildEngine()
    actors = 1
    if limits.MAX_RAY_ACTORS > 1:
        actors = int(st.slider("Ray model workers", 1, limits.MAX_RAY_ACTORS, 1, key=f"{prefix}_ray_actors",
                               help="Each worker loads the model once and runs its share of the batches."))
    address = ray_address()
    shared = "" if address is None else " Its workers read the dataset at the same path, so it must be on storage they share."
    st.caption(f"Runs on {ray_engine.place(address)} with {actors} model worker{'s' if actors > 1 else ''}, "
               f"as the server's operator set it up.{shared}")
    return BuildEngine("ray", address, actors)


def _built_on_ray(location: Path, folder: Path, model, settings: IndexSettings, engine: BuildEngine, progress):
    """``build_index`` on Ray, one such build per process; any failure of Ray is one sentence (VizcoreError)."""
    if not _RAY_BUILDS.acquire(blocking=False):
        raise VizcoreError("Another index is being built on Ray from this server right now: build this one on this "
                           "server, or try again when that one is finished.")
    try:
        # A local Ray is sized once, for the largest pool this server allows.
        ray_engine.start_ray(engine.ray_address, limits.MAX_RAY_ACTORS)
        return build_index(location, folder, model, settings, engine="ray", ray_address=engine.ray_address,
                           ray_actors=engine.ray_actors, progress=progress)
    except VizcoreError:
        raise
    except Exception as error:  # anything else Ray raises: one sentence here, the traceback in the server's log
        logging.getLogger(__name__).warning("A Ray build of %s failed", folder, exc_info=True)
        raise VizcoreError(ray_engine.failure_sentence(error, engine.ray_address)) from None
    finally:
        _RAY_BUILDS.release()


def _finished_shards(folder: Path) -> int:
    return len(list((folder / "images").glob("part-*.parquet"))) if folder.is_dir() else 0


def index_section(selection: Selection) -> OpenIndex | None:
    """Choose a dataset and build its index (Run/Stop), or reopen one; the finished index, else None."""
    chosen = _chosen_source(selection)
    if chosen is None or isinstance(chosen, OpenIndex):
        return chosen
    location, source_id = chosen
    layers = _layer_picker(selection)
    return _opened_or_built(selection.model_name, location, source_id, layers, "dataset_build", "Build the index")


def _opened_or_built(model_name: str, location: Path, source_id: str, layers: list[str], run_name: str,
                     button_label: str) -> OpenIndex | None:
    """The index of ``source_id`` by ``model_name`` over ``layers`` when it is finished, else its Build/Stop (live
    run ``run_name``) and None until the build finishes."""
    folder = index_folder(source_id, cached.model_digest(model_name), layers)
    opened = open_index(folder)
    if opened is not None:
        return dataclasses.replace(opened, source_id=source_id)
    model = cached.model_for(model_name)
    engine = _engine_picker(run_name, model_name)

    def build(on_progress):
        lock = cached.index_build_lock(str(folder))
        if not lock.acquire(blocking=False):
            raise VizcoreError("Another visitor is building this index right now; it opens here once it is finished.")
        try:
            settings = IndexSettings(layers=tuple(layers), batch_size=PAGE_BATCH_SIZE, shard_size=PAGE_SHARD_SIZE)
            def progress(done: int, total: int) -> None:
                on_progress(BuildProgress(done, total))

            if engine.name == "ray":
                return _built_on_ray(location, folder, model, settings, engine, progress)
            return build_index(location, folder, model, settings, progress=progress)
        finally:
            lock.release()

    resumed = st.empty()
    finished = _finished_shards(folder)
    if finished:
        resumed.caption(f"A build of this index stopped after {finished} shards of {PAGE_SHARD_SIZE} images; "
                        "building again resumes from there.")
    summary = live_run(run_name, (str(folder),), button_label, build, lambda update: None, unit="shards")
    if summary is None:
        return None
    resumed.empty()  # finished now: the note about the stopped build no longer holds
    opened = open_index(folder)
    return None if opened is None else dataclasses.replace(opened, source_id=source_id)


def index_summary(index: OpenIndex, rows) -> None:
    """The index's counts, its skipped files and the manifest download."""
    counts = index.manifest.get("counts", {})
    columns = st.columns(6)
    columns[0].metric("Images", counts.get("images", 0))
    columns[1].metric("Skipped", counts.get("skipped", 0))
    columns[2].metric("With a label", int(rows["label"].notna().sum()), help="Images in a class subfolder.")
    columns[3].metric("Indexed layers", len(index.layers))
    columns[4].metric("Build time", f"{index.manifest.get('seconds', 0):.0f} s")
    engine = index.manifest["settings"].get("engine", "local")
    columns[5].metric("Built on", BUILT_ON.get(engine, engine),
                      help="The engine of the build's last run: this server's own process, or Ray.")
    skipped = index.manifest.get("skipped", [])
    if skipped:
        with st.expander(f"{len(skipped)} files skipped"):
            st.dataframe(skipped, hide_index=True)
    json_download("Index manifest JSON", index.manifest, "index_manifest.json", key="dataset_manifest_json")


def _tiles(index: OpenIndex, paths: list[str], size: int) -> list[np.ndarray]:
    return [cached.dataset_model_view(index.location, path, size) for path in paths]


def labels_view(selection: Selection, index: OpenIndex, rows) -> None:
    """Accuracy and a confusion matrix for labels that are the model's classes, else a label x predicted table;
    a chosen cell's images with their Grad-CAM for the predicted class."""
    labelled = rows[rows["label"].notna()]
    if labelled.empty:
        st.info("The images have no labels (no class subfolders), so there is no table of labels and predictions.")
        return
    are_classes = bool(labelled["label_index"].notna().all())
    counts = labelled.groupby(["label", "predicted"]).size()
    table = counts.unstack(fill_value=0)
    if are_classes:
        accuracy = float(labelled["correct"].astype(float).mean())
        st.metric("Top-1 accuracy", f"{accuracy:.1%}", help="Images whose top class is their folder's class.")
        st.caption("Confusion matrix: each row is a label, each column a predicted class; off the diagonal are the errors.")
    else:
        st.caption("These labels are not the model's classes, so there is no accuracy: each row shows which classes "
                   "the images of one label get (a consistent model puts a label's images in few columns).")
    table = table[table.sum().sort_values(ascending=False).index]  # the most frequent classes first
    values = table.to_numpy()
    figure = go.Figure(go.Heatmap(
        z=values, x=list(table.columns), y=list(table.index), colorscale="Blues",
        text=np.where(values > 0, values.astype(str), ""), texttemplate="%{text}",
        hovertemplate="label %{y}<br>predicted %{x}<br>%{z} images<extra></extra>", showscale=False,
    ))
    figure.update_layout(height=max(260, 28 * len(table) + 120), margin=dict(l=10, r=10, t=10, b=10),
                         xaxis=dict(tickangle=-40, type="category"), yaxis=dict(type="category", autorange="reversed"))
    st.plotly_chart(figure, key="dataset_table_chart")

    cells = [(label, predicted, int(count)) for (label, predicted), count in counts.items() if count]
    if are_classes:  # errors first, the biggest first
        right = set(labelled[labelled["correct"].astype(bool)].groupby(["label", "predicted"]).size().index)
        cells.sort(key=lambda cell: ((cell[0], cell[1]) in right, -cell[2]))
    else:
        cells.sort(key=lambda cell: -cell[2])
    cell = st.selectbox("Show the images of", cells, key="dataset_cell",
                        format_func=lambda cell: f"label {cell[0]} → predicted {cell[1]} ({cell[2]} images)")
    chosen = labelled[(labelled["label"] == cell[0]) & (labelled["predicted"] == cell[1])].head(CELL_IMAGES)
    size = selection.model.spec.input_size
    overlays = []
    for path, view, class_index in zip(chosen["path"], _tiles(index, list(chosen["path"]), size), chosen["top_class"]):
        cam = cached.attribution_map(selection.model_name, images.image_hash(view), view, "gradcam", int(class_index),
                                     None, {})
        overlays.append(viz.map_overlay(view, viz.display_map(cam.values, "gradcam"), "gradcam"))
    st.image(overlays, caption=[f"{Path(path).name} ({probability:.0%})"
                                for path, probability in zip(chosen["path"], chosen["probability"])], width=TILE_WIDTH)
    st.caption(f"Grad-CAM of the predicted class ({cell[1]}) over each image as the model sees it"
               + (f"; the first {CELL_IMAGES} of {cell[2]}." if cell[2] > CELL_IMAGES else "."))


def _same_dataset(one: OpenIndex, other: OpenIndex) -> bool:
    """Both indexes read the same files: the same location and the same listing."""
    return all(one.manifest["identity"][key] == other.manifest["identity"][key] for key in ("source", "listing_digest"))


def second_model_index(selection: Selection, index: OpenIndex) -> OpenIndex | None:
    """The second model's finished index of ``index``'s dataset (any layers), else its Build/Stop and None until built.

    A new one keeps the second model's default layers under the page's own key, so choosing that model as the
    first one later reopens it.
    """
    name = selection.compare_name
    found = next((other for other in finished_indexes(cached.model_digest(name)) if _same_dataset(other, index)), None)
    if found is not None:
        return found
    identity = index.manifest["identity"]
    source_id = index.source_id or f"index-source:{identity['source']}:{identity['listing_digest']}"
    layers = list(default_layers(cached.model_for(name)))
    return _opened_or_built(name, Path(index.location), source_id, layers, "dataset_compare_build",
                            "Build the second model's index")


def disagreements_view(selection: Selection, index: OpenIndex) -> None:
    """With a second model in the sidebar: its index of the same dataset, then the images whose top classes differ."""
    second = second_model_index(selection, index)
    if second is None:
        return
    try:
        found = cached.index_disagreements(index.folder, index.built, second.folder, second.built)
    except VizcoreError as error:
        st.error(str(error))
        return
    first_model, second_model = selection.model, cached.model_for(selection.compare_name)
    first_title, second_title = first_model.spec.display_name, second_model.spec.display_name
    count = len(found.disagreements)
    st.markdown(f"**{count} of {found.images} images disagree**: {first_title} (first) and {second_title} (second) "
                "give them different top classes, compared by class name.")
    if not set(first_model.class_names) & set(second_model.class_names):
        st.info("The two models have no class name in common, so they disagree on every image.")
    if count:
        shown = found.disagreements[:MAX_DISAGREEMENTS_SHOWN]
        size = max(first_model.spec.input_size, second_model.spec.input_size)  # a 32 px model's view is a blur
        st.image(_tiles(index, [row.path for row in shown], size), width=TILE_WIDTH, caption=[
            f"first: {row.first_class} {row.first_probability:.0%} · second: {row.second_class} {row.second_probability:.0%}"
            for row in shown])
        st.caption("The surest disagreements first (the lower of the two top-class probabilities, highest first)"
                   + (f"; the first {MAX_DISAGREEMENTS_SHOWN} of {count}." if count > MAX_DISAGREEMENTS_SHOWN else "."))
    parameters = {"first_model": selection.model_name, "second_model": selection.compare_name,
                  "dataset": index.location, "first_index": index.folder, "second_index": second.folder}
    json_download("Disagreements JSON", {"parameters": parameters, **found.as_dict()}, "disagreements.json",
                  key="dataset_disagreements_json")


def map_view(selection: Selection, index: OpenIndex, rows) -> None:
    """The embeddings as a 2-D scatter; a clicked point becomes the sidebar image."""
    method_column, colour_column = st.columns(2)
    method = method_column.radio("Projection", list(MAP_METHODS), format_func=MAP_METHODS.get, horizontal=True,
                                 key="dataset_map_method")
    colourings = {"label": "label", "predicted": "predicted class"}
    if rows["correct"].notna().any():
        colourings["correct"] = "correct or not"
    colour = colour_column.radio("Colour by", list(colourings), format_func=colourings.get, horizontal=True,
                                 key="dataset_map_colour")
    try:
        with st.spinner(f"Projecting {len(rows)} embeddings with {MAP_METHODS[method]}…"):
            xy = cached.embedding_map(index.folder, index.built, method, 0)
    except VizcoreError as error:
        st.error(str(error))
        return
    groups = rows[colour].astype(str).where(rows[colour].notna(), "no label")
    shown = np.ones(len(rows), bool)
    if len(rows) > MAX_MAP_POINTS_SHOWN:
        shown[:] = False
        shown[np.random.default_rng(0).choice(len(rows), MAX_MAP_POINTS_SHOWN, replace=False)] = True
    figure = go.Figure()
    for number, group in enumerate(sorted(groups.unique())):
        members = np.flatnonzero((groups == group).to_numpy() & shown)
        figure.add_trace(go.Scatter(
            x=xy[members, 0], y=xy[members, 1], mode="markers", name=group,
            marker=dict(size=8, opacity=0.8, color=MAP_COLOURS[number % len(MAP_COLOURS)]),
            customdata=np.stack([members, rows["path"].to_numpy()[members], rows["predicted"].to_numpy()[members]], 1),
            hovertemplate="%{customdata[1]}<br>predicted %{customdata[2]}<extra>%{fullData.name}</extra>",
        ))
    figure.update_layout(height=460, margin=dict(l=10, r=10, t=10, b=10), legend=dict(font=dict(size=11)),
                         xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False))

    def choose_point() -> None:
        points = st.session_state["dataset_map_chart"].selection.points
        if not points:
            return
        path = rows["path"].iloc[int(points[0]["customdata"][0])]
        try:
            use_dataset_image(f"dataset:{path}", cached.dataset_image(index.location, path))
        except VizcoreError as error:
            st.session_state["map_error_dataset"] = str(error)

    if not shown.all():
        st.caption(f"{MAX_MAP_POINTS_SHOWN:,} of the {len(rows):,} points drawn (a fixed random choice); "
                   "the NPY download has them all.")
    chart_column, chosen_column = st.columns([3, 1])
    with chart_column:
        st.plotly_chart(figure, key="dataset_map_chart", on_select=choose_point, selection_mode="points")
    with chosen_column:
        if "map_error_dataset" in st.session_state:
            st.error(st.session_state.pop("map_error_dataset"))
        if selection.image_name.startswith("dataset:") and DATASET_IMAGE in st.session_state:
            st.image(st.session_state[DATASET_IMAGE][1].preview, caption=f"Sidebar image: {selection.image_name[8:]}")
        else:
            st.caption("Click a point to see its image here and make it the sidebar image (every page then uses it). "
                       "Plotly's hover labels hold text only, so the hover shows the file and its prediction.")
    buffer = io.BytesIO()
    np.save(buffer, xy)
    npy_column, json_column, _ = st.columns([1, 1, 3])
    npy_column.download_button("Map XY NPY", buffer.getvalue(), f"map_{method}.npy", "application/octet-stream",
                               key="dataset_map_npy")
    with json_column:
        json_download("Map parameters JSON", {"index": index.folder, "method": method, "seed": 0, "points": len(xy),
                                              "paths": rows["path"].tolist()}, f"map_{method}.json", key="dataset_map_json")


def _clamp(key: str, most: int) -> None:
    """Keep a remembered slider value within this index's range (another index may have allowed more)."""
    if key in st.session_state:
        st.session_state[key] = max(1, min(int(st.session_state[key]), most))


def neighbours_view(selection: Selection, index: OpenIndex, rows) -> None:
    """The index images nearest to the sidebar image in feature space (cosine distance)."""
    most = min(MAX_NEIGHBOURS, len(rows))
    _clamp("dataset_k", most)
    k = int(st.slider("Neighbours", 1, max(most, 2), min(8, most), key="dataset_k", disabled=most < 2))
    try:
        with st.spinner("Searching…"):
            found = cached.dataset_neighbours(selection.model_name, selection.image_key, selection.pixels,
                                              index.folder, index.built, k)
    except VizcoreError as error:
        st.error(str(error))
        return
    tiles = _tiles(index, [neighbour.path for neighbour in found], selection.model.spec.input_size)
    st.image(tiles, width=TILE_WIDTH, caption=[
        f"{rank}. distance {neighbour.distance:.3f} · {neighbour.label or 'no label'} → {neighbour.predicted}"
        for rank, neighbour in enumerate(found, 1)])
    st.caption(f"The {k} images of the index closest to the sidebar image ({selection.image_name}) in the model's "
               "embedding space; cosine distance, 0 = same direction, 2 = opposite.")
    json_download("Neighbours JSON", {"parameters": selection.parameters(index=index.folder, k=k),
                                      "neighbours": [neighbour.as_dict() for neighbour in found]},
                  "neighbours.json", key="dataset_neighbours_json")


def apply_channel_link(index: OpenIndex) -> None:
    """Open the patches at ``?layer=L&channel=C`` (links from the Activation explorer and the Filter gallery), once."""
    layer, channel = st.query_params.get("layer"), st.query_params.get("channel")
    if layer is None or st.session_state.get(LINK_APPLIED) == (index.folder, layer, channel):
        return
    st.session_state[LINK_APPLIED] = (index.folder, layer, channel)
    if layer not in index.layers:
        st.warning(f"This index has no layer {layer!r}: tick it under Layers to index and build again to see its patches.")
        return
    st.session_state[PATCH_LAYER] = layer
    if channel is not None and channel.isdigit():
        st.session_state[PATCH_CHANNEL] = int(channel)


def patches_view(index: OpenIndex) -> None:
    """The top-K dataset patches of a chosen layer and channel, cropped at the channel's receptive field."""
    if not index.layers:
        st.info("This index keeps no layer's patches: tick layers under Layers to index and build again.")
        return
    apply_channel_link(index)
    if st.session_state.get(PATCH_LAYER) not in index.layers:
        st.session_state[PATCH_LAYER] = index.layers[0]
    layer_column, channel_column, k_column = st.columns([3, 1, 2])
    layer = layer_column.selectbox("Layer", index.layers, key=PATCH_LAYER)
    channels = index.manifest["layers"][layer]["channels"]
    st.session_state[PATCH_CHANNEL] = min(int(st.session_state.get(PATCH_CHANNEL, 0)), channels - 1)
    channel = int(channel_column.number_input(f"Channel (0-{channels - 1})", 0, channels - 1, key=PATCH_CHANNEL))
    top_k = min(index.manifest["settings"]["top_k"], index.manifest.get("counts", {}).get("images", 1))
    _clamp("dataset_patch_k", top_k)
    k = int(k_column.slider("Patches", 1, max(top_k, 2), min(top_k, 12), key="dataset_patch_k", disabled=top_k < 2))
    try:
        patches, grid = cached.dataset_patches(index.folder, index.built, layer, channel, k)
    except VizcoreError as error:
        st.error(str(error))
        return
    field = index.manifest["layers"][layer]["receptive_field"]["size"]
    st.image(grid, caption=f"{layer}, channel {channel}: the {len(patches)} dataset patches that excite it most, "
                           f"highest first; each is the channel's {field[0]}×{field[1]} px receptive field in the "
                           "model's input, around its maximum")
    st.dataframe([{"rank": rank, "image": patch.path, "activation": round(patch.activation, 3), "box": str(list(patch.box))}
                  for rank, patch in enumerate(patches, 1)], hide_index=True, height=min(36 * (len(patches) + 1), 300))
    record = {"index": index.folder, "layer": layer, "channel": channel, "k": k,
              "patches": [patch.as_dict() for patch in patches]}
    png_column, json_column, _ = st.columns([1, 1, 3])
    png_column.download_button("Patches PNG", images.encode_png(grid), f"{layer}_{channel}_patches.png", "image/png",
                               key="dataset_patches_png")
    with json_column:
        json_download("Patches JSON", record, f"{layer}_{channel}_patches.json", key="dataset_patches_json")


def channel_link(container, layer: str, channel: int) -> None:
    """A link to this channel's natural exemplars on the Dataset explorer (``?layer=&channel=``)."""
    container.page_link("pages/dataset-explorer.py", label="Natural exemplars of this channel", icon=":material/photo_library:",
                        query_params={"layer": layer, "channel": str(int(channel))})


def natural_exemplars(selection: Selection, layer: str, channels: list[int], synthetic: np.ndarray) -> None:
    """The Filter gallery's channels beside their top dataset patches, from an index of this model that keeps ``layer``.

    ``synthetic``: one image per entry of ``channels`` (N x S x S x 3, 0-1 or uint8), as the gallery made them.
    """
    st.subheader("Natural exemplars")
    first_image = {}
    for channel, image in zip(channels, synthetic):
        first_image.setdefault(int(channel), image)
    pick_column, link_column = st.columns([1, 2])
    channel = pick_column.selectbox("Channel", list(first_image), key="filters_exemplar_channel")
    channel_link(link_column, layer, channel)
    index = next((found for found in finished_indexes(cached.model_digest(selection.model_name))
                  if layer in found.layers), None)
    if index is None:
        st.caption(f"No Dataset explorer index of this model keeps {layer} yet: build one there (the link above) to see "
                   "the real-image patches that excite this channel most beside its synthetic image.")
        return
    if not st.toggle(f"Show them beside the synthetic image (index: {index.title()})", key="filters_exemplars"):
        return
    k = min(8, index.manifest["settings"]["top_k"])
    try:
        patches, grid = cached.dataset_patches(index.folder, index.built, layer, int(channel), k)
    except VizcoreError as error:
        st.error(str(error))
        return
    image = first_image[channel]
    image = image if image.dtype == np.uint8 else np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    synthetic_column, patches_column = st.columns([1, 4])
    synthetic_column.image(image, caption=f"channel {channel}, synthesised")
    patches_column.image(grid, caption=f"channel {channel}: the {len(patches)} dataset patches that excite it most "
                                       f"({index.title()})")
