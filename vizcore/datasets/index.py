"""The index pass: every image of a dataset through the recipe once, written as Parquet shards in INDEX_DIR.

Layout of INDEX_DIR:

- ``images/part-NNNNN.parquet``: one row per decoded image: ``file_index`` (its place in the
  dataset's sorted listing), ``path`` (relative to the dataset's root), ``label`` (its class folder,
  or null), ``height``/``width`` (original pixels), ``top_classes``/``top_probabilities`` (5 each),
  ``predicted`` (the top class's name), ``label_index`` and ``correct`` (null when the label names
  no class of the model), ``embedding`` (float16, fixed-size list). The files the shard skipped,
  with their sentences, are in the file's schema metadata.
- ``shards/top-NNNNN.parquet``: each shard's top-K images per layer and channel;
  ``top_activations.parquet``: the shards merged (``layer``, ``channel``, ``rank``, ``path``,
  ``activation``, ``y``/``x`` in feature-map cells, the patch ``x0, y0, x1, y1`` in the original
  image's pixels).
- ``manifest.json``: the settings, the model's digest, versions, counts, the skipped files.

A shard is ``shard_size`` consecutive files of the listing. It is finished when its images file
exists: both files are written under a temporary name and renamed, the images file last. Rerunning
with the same settings skips finished shards, so a killed run loses at most the shard it was on
(and, during the milliseconds of its write, the one before); other settings in the same folder are
refused with one sentence.

The local engine decodes in a background thread, a bounded queue ahead of the model, which runs
two batches side by side (``IndexRecipe.map``); a shard's files are written on another thread
while the next shard is computed. The rows of two shards and the running top-K (layers x channels
x K) are all it holds, so memory does not grow with the dataset.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vizcore.errors import VizcoreError

MANIFEST = "manifest.json"
IMAGES_DIR = "images"
SHARDS_DIR = "shards"
TOP_FILE = "top_activations.parquet"
FORMAT = 1
DEFAULT_SHARD_SIZE = 1024  # images per shard: what a killed run can lose
DEFAULT_TOP_K = 16  # images kept per layer and channel
ENGINES = ("local", "ray")
DEFAULT_BATCH_SIZE = 32
_QUEUE_BATCHES = 4  # decoded batches (and shard ends) the reader may hold ahead of the model: a pair and the next
_SKIPPED_KEY = b"vizcore.skipped"
_DONE = object()


@dataclass(frozen=True)
class IndexSettings:
    """What an index is made with. Every field but ``batch_size`` must match to resume into the same folder."""

    layers: tuple[str, ...] | None = None  # None: the model's gallery preset layers
    batch_size: int = DEFAULT_BATCH_SIZE
    shard_size: int = DEFAULT_SHARD_SIZE
    top_k: int = DEFAULT_TOP_K

    def check(self) -> None:
        if not 1 <= self.batch_size <= 1024:
            raise VizcoreError(f"The batch size must be between 1 and 1024, not {self.batch_size}.")
        if not 1 <= self.shard_size <= 1_000_000:
            raise VizcoreError(f"The shard size must be between 1 and 1,000,000 images, not {self.shard_size}.")
        if not 1 <= self.top_k <= 1000:
            raise VizcoreError(f"Top-K must be between 1 and 1000 images per channel, not {self.top_k}.")


@dataclass
class IndexSummary:
    """What ``build_index`` did: the CLI's ``--json``."""

    images: int
    skipped: list
    seconds: float
    engine: str
    out: str
    shards_computed: int = 0
    shards_total: int = 0

    def as_dict(self) -> dict:
        return {"images": self.images, "skipped": [item.as_dict() for item in self.skipped],
                "seconds": round(self.seconds, 3), "engine": self.engine, "out": self.out}


def default_layers(loaded) -> tuple[str, ...]:
    """The layers indexed when none are chosen: the model's filter-gallery presets, else its deepest explorer layer."""
    presets = loaded.spec.presets
    layers = tuple(dict.fromkeys(layer for layer, _ in presets.gallery))
    return layers or presets.explorer_layers[-1:]


def model_digest(loaded) -> str:
    """SHA-256 of the model's name and weights: equal digests, equal results."""
    digest = hashlib.sha256(loaded.spec.name.encode())
    for weight in loaded.keras_model.weights:
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{weight.path}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def listing_digest(source) -> str:
    digest = hashlib.sha256()
    for file in source.files:
        digest.update(f"{file.path}\0{file.label}\n".encode())
    return digest.hexdigest()


def _versions() -> dict:
    from importlib import metadata

    versions = {}
    for package in ("vizcore", "tensorflow", "keras", "numpy", "pyarrow", "pillow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def read_manifest(index_dir) -> dict:
    """The manifest of a finished index; one sentence when there is none or the index is not finished."""
    path = Path(index_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VizcoreError(f"{index_dir} holds no vizcore index (no {MANIFEST}); make one with `vizcore index`.") from None
    except (OSError, ValueError):
        raise VizcoreError(f"The index manifest {path} is damaged, so vizcore cannot read the index.") from None
    if not manifest.get("complete"):
        raise VizcoreError(f"The index in {index_dir} is not finished; rerun the same `vizcore index` command to resume it.")
    return manifest


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def _write_parquet(table, path: Path) -> None:
    import pyarrow.parquet as pq

    temporary = path.with_name(path.name + ".tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


def _label_indices(class_names) -> dict[str, int]:
    by_name: dict[str, int] = {}
    for index, name in enumerate(class_names):
        by_name.setdefault(name.lower(), index)
    return by_name


class TopK:
    """Per channel, the ``k`` largest activations seen so far with the file index and cell they came from."""

    def __init__(self, k: int, channels: int):
        self.activation = np.full((k, channels), -np.inf, dtype=np.float32)
        self.file = np.full((k, channels), -1, dtype=np.int64)
        self.y = np.zeros((k, channels), dtype=np.int32)
        self.x = np.zeros((k, channels), dtype=np.int32)

    def update(self, activation, file, y, x) -> None:
        """Fold in N rows: ``activation``, ``y``, ``x`` N x C; ``file`` N (per image) or N x C."""
        k, channels = self.activation.shape
        file = np.broadcast_to(np.asarray(file, dtype=np.int64).reshape(len(activation), -1), (len(activation), channels))
        merged = [np.concatenate([mine, np.asarray(theirs)]) for mine, theirs in
                  ((self.activation, activation), (self.file, file), (self.y, y), (self.x, x))]
        keep = np.argpartition(-merged[0], k - 1, axis=0)[:k]
        self.activation, self.file, self.y, self.x = (np.take_along_axis(part, keep, axis=0) for part in merged)

    def rows(self):
        """(channel, rank, file, activation, y, x) arrays, highest first per channel, unfilled places left out."""
        order = np.argsort(-self.activation, axis=0, kind="stable")
        sorted_parts = [np.take_along_axis(part, order, axis=0) for part in (self.file, self.activation, self.y, self.x)]
        rank, channel = np.indices(self.activation.shape)
        filled = sorted_parts[0] >= 0
        return (channel[filled], rank[filled], *(part[filled] for part in sorted_parts))


@dataclass
class _Shard:
    number: int
    files: list  # (file_index, ImageFile)


class _IndexWriter:
    """Gathers the recipe's batch outputs for one shard at a time and writes each shard's Parquet files."""

    def __init__(self, out: Path, recipe, top_k: int, channels: dict[str, int]):
        self.out = out
        self.recipe = recipe
        self.top_k = top_k
        self.channels = channels
        self.label_index = _label_indices(recipe.class_names)

    def start(self, shard: _Shard):
        self.columns: dict[str, list] = {}
        self.tops = {layer: TopK(self.top_k, count) for layer, count in self.channels.items()}
        self.sizes: dict[int, tuple[int, int]] = {}
        self.shard = shard

    def add(self, outputs: dict) -> None:
        for name in ("file_index", "path", "label", "height", "width", "top_classes", "top_probabilities", "embedding"):
            self.columns.setdefault(name, []).append(outputs[name])
        for file_index, height, width in zip(outputs["file_index"], outputs["height"], outputs["width"]):
            self.sizes[int(file_index)] = (int(height), int(width))
        for layer, top in self.tops.items():
            top.update(outputs[f"{layer}/max"], outputs["file_index"], outputs[f"{layer}/y"], outputs[f"{layer}/x"])

    def written(self, skipped: list) -> Callable[[], None]:
        """The current shard's write, as a call that keeps this shard's rows to itself: it may run on another thread
        while ``start`` and ``add`` gather the next shard."""
        return functools.partial(self._write, self.shard, self.columns, self.tops, self.sizes, skipped)

    def _write(self, shard: _Shard, columns: dict, tops: dict, sizes: dict, skipped: list) -> None:
        import pyarrow as pa

        paths = {index: file.path for index, file in shard.files}
        parts = []
        for layer, top in tops.items():
            channel, rank, file, activation, y, x = top.rows()
            parts.append(pa.table({
                "layer": pa.array([layer] * len(channel), pa.string()),
                "channel": pa.array(channel, pa.int32()),
                "rank": pa.array(rank, pa.int32()),
                "file_index": pa.array(file, pa.int64()),
                "path": pa.array([paths[int(i)] for i in file], pa.string()),
                "activation": pa.array(activation, pa.float32()),
                "y": pa.array(y, pa.int32()),
                "x": pa.array(x, pa.int32()),
                "height": pa.array([sizes[int(i)][0] for i in file], pa.int32()),
                "width": pa.array([sizes[int(i)][1] for i in file], pa.int32()),
            }))
        _write_parquet(pa.concat_tables(parts), self.out / SHARDS_DIR / f"top-{shard.number:05d}.parquet")
        images = self._images_table(columns)
        images = images.replace_schema_metadata({_SKIPPED_KEY: json.dumps([item.as_dict() for item in skipped])})
        _write_parquet(images, self.out / IMAGES_DIR / f"part-{shard.number:05d}.parquet")

    def _images_table(self, columns: dict):
        import pyarrow as pa

        def stacked(name, dtype, width):
            parts = columns.get(name, [])
            return np.concatenate(parts).astype(dtype) if parts else np.zeros((0, width), dtype=dtype)

        names = self.recipe.class_names
        top = stacked("top_classes", np.int32, 5)
        probabilities = stacked("top_probabilities", np.float32, top.shape[1])
        embedding = stacked("embedding", np.float16, 1)
        labels = [str(label) if label is not None else None for part in columns.get("label", []) for label in part]
        label_index = [self.label_index.get(label.lower().replace("_", " "), self.label_index.get(label.lower()))
                       if label is not None else None for label in labels]
        predicted = [names[int(row[0])] if int(row[0]) < len(names) else str(int(row[0])) for row in top]
        correct = [None if index is None else bool(index == int(row[0])) for index, row in zip(label_index, top)]
        width = embedding.shape[1] if embedding.ndim == 2 and len(embedding) else self.recipe.embedding_size
        return pa.table({
            "file_index": pa.array(stacked("file_index", np.int64, 0).ravel()),
            "path": pa.array([str(path) for part in columns.get("path", []) for path in part], pa.string()),
            "label": pa.array(labels, pa.string()),
            "height": pa.array(stacked("height", np.int32, 0).ravel()),
            "width": pa.array(stacked("width", np.int32, 0).ravel()),
            "top_classes": pa.FixedSizeListArray.from_arrays(pa.array(top.ravel(), pa.int32()), top.shape[1]),
            "top_probabilities": pa.FixedSizeListArray.from_arrays(pa.array(probabilities.ravel(), pa.float32()),
                                                                   top.shape[1]),
            "predicted": pa.array(predicted, pa.string()),
            "label_index": pa.array(label_index, pa.int32()),
            "correct": pa.array(correct, pa.bool_()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.ravel(), pa.float16()), width),
        })


def _shards(files, shard_size: int) -> list[_Shard]:
    numbered = list(enumerate(files))
    return [_Shard(number, numbered[start : start + shard_size])
            for number, start in enumerate(range(0, len(numbered), shard_size))]


def _shard_done(out: Path, number: int) -> bool:
    return (out / IMAGES_DIR / f"part-{number:05d}.parquet").is_file() and \
        (out / SHARDS_DIR / f"top-{number:05d}.parquet").is_file()


def _check_resumable(out: Path, identity: dict) -> None:
    path = out / MANIFEST
    if not path.exists():
        if out.exists() and any(out.iterdir()):
            raise VizcoreError(f"{out} is a folder with other files in it; choose an empty or new folder for the index.")
        return
    try:
        existing = json.loads(path.read_text(encoding="utf-8")).get("identity", {})
    except (OSError, ValueError):
        raise VizcoreError(f"The index manifest {path} is damaged; choose another folder or delete this one.") from None
    differing = [key for key in identity if existing.get(key) != identity[key]]
    if differing:
        raise VizcoreError(
            f"{out} holds an index made with other settings ({differing[0].replace('_', ' ')} differs); "
            "choose another folder or delete this one."
        )


@dataclass
class _Batch:
    """Up to a batch of one shard's decoded files, stacked by the reader, and the files it skipped on the way."""

    images: np.ndarray  # N x S x S x 3 uint8, fitted
    file_index: np.ndarray  # N int64
    files: list  # N ImageFile
    sizes: np.ndarray  # N x 2 int32: each image's full (height, width)
    skipped: list


def _decode_into(source, shards, size: int, batch_size: int, items: queue.Queue, stop: threading.Event) -> None:
    """The reader thread: every pending shard's files decoded, fitted and stacked into _Batch items, each shard
    followed by the shard itself as its end marker; _DONE at the end.

    Whole batches cross the queue, not single images: the model's thread then takes one item a batch
    and stacks nothing.
    """
    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def batch_of(count: int, numbers: list, files: list, sizes: list, skipped: list) -> _Batch:
        return _Batch(images[:count], np.array(numbers, dtype=np.int64), files,
                      np.array(sizes, dtype=np.int32).reshape(-1, 2), skipped)

    def new_images():
        return np.empty((batch_size, size, size, 3), dtype=np.uint8)

    try:
        for shard in shards:
            images = new_images()
            count, numbers, files, sizes, skipped = 0, [], [], [], []
            for file_index, file in shard.files:
                decoded = source.decode_fitted(file, size)
                if not isinstance(decoded, tuple):
                    skipped.append(decoded)
                    continue
                images[count], full_size = decoded
                numbers.append(file_index)
                files.append(file)
                sizes.append(full_size)
                count += 1
                if count == batch_size:
                    if not put(batch_of(count, numbers, files, sizes, skipped)):
                        return
                    images = new_images()  # the model's thread owns the one just put
                    count, numbers, files, sizes, skipped = 0, [], [], [], []
            if (count or skipped) and not put(batch_of(count, numbers, files, sizes, skipped)):
                return
            if not put(shard):
                return
        put(_DONE)
    except BaseException as error:  # handed to the consumer, which raises it
        put(error)


def build_index(data, out, model=None, settings: IndexSettings = IndexSettings(), *, engine: str = "local",
                ray_address: str | None = None, ray_actors: int = 1,
                progress: Callable[[int, int], None] | None = None, model_choice=None) -> IndexSummary:
    """Index the folder or zip ``data`` into the folder ``out`` (see the module docstring).

    ``model``: a ``ModelChoice`` (default: the embedded model) or a LoadedModel, with
    ``model_choice`` saying how to load it again (for ``vizcore neighbours``; a registry model's
    name is enough). ``engine="ray"`` runs the pass on Ray Data (ray_engine.py) with ``ray_actors``
    model actors, on the cluster at ``ray_address`` or a local one. ``progress(done, total)`` is called after each shard, in shards; an exception
    it raises stops the run (the finished shards stay, a rerun resumes). Returns an ``IndexSummary``.
    """
    from vizcore.datasets.recipe import IndexRecipe, ModelChoice
    from vizcore.datasets.sources import open_source

    if engine not in ENGINES:
        raise VizcoreError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    settings.check()
    started = time.perf_counter()
    out = Path(out)
    with open_source(data) as source:
        if not source.files:
            raise VizcoreError(f"{data} holds no files to index.")
        model = model if model is not None else ModelChoice()
        if isinstance(model, ModelChoice):
            model_choice, loaded = model, model.load()
        else:
            loaded = model
        if model_choice is None and not loaded.spec.name.startswith("upload:"):
            model_choice = ModelChoice(name=loaded.spec.name)
        layers = tuple(settings.layers) if settings.layers is not None else default_layers(loaded)
        recipe = IndexRecipe(loaded, layers, settings.batch_size)
        identity = {
            "format": FORMAT,
            "model": loaded.spec.name,
            "model_digest": model_digest(loaded),
            "layers": list(recipe.layers),
            "top_k": settings.top_k,
            "shard_size": settings.shard_size,
            "source": str(source.location),
            "listing_digest": listing_digest(source),
        }
        _check_resumable(out, identity)
        for folder in (out, out / IMAGES_DIR, out / SHARDS_DIR):
            folder.mkdir(parents=True, exist_ok=True)
        manifest = _manifest(identity, loaded, recipe, settings, source, engine, model_choice)
        _write_json(out / MANIFEST, manifest)
        shards = _shards(source.files, settings.shard_size)
        pending = [shard for shard in shards if not _shard_done(out, shard.number)]
        channels = {layer: info["channels"] for layer, info in manifest["layers"].items()}
        in_turn = ShardsInTurn(_IndexWriter(out, recipe, settings.top_k, channels), pending, progress,
                               len(shards) - len(pending), len(shards))
        try:
            if engine == "ray":
                from vizcore.datasets.ray_engine import run_ray

                run_ray(source, model_choice, recipe.layers, pending, in_turn, settings.batch_size, recipe.input_size,
                        ray_address, ray_actors)
            else:
                _run_local(source, recipe, pending, in_turn, settings)
        finally:
            in_turn.close()
        _merge_tops(out, recipe, len(shards), settings.top_k)
        skipped = list(source.skipped) + _skipped_in_shards(out, len(shards))
        images = _count_rows(out, len(shards))
        seconds = time.perf_counter() - started
        manifest.update(complete=True, counts=_counts(out, len(shards), len(source.files), len(skipped)),
                        skipped=[item.as_dict() for item in skipped], seconds=round(seconds, 3))
        _write_json(out / MANIFEST, manifest)
    return IndexSummary(images, skipped, seconds, engine, str(out), len(pending), len(shards))


def _manifest(identity, loaded, recipe, settings, source, engine, choice) -> dict:
    from vizcore.datasets.patches import receptive_field
    from vizcore.models.layers import layer_infos

    shapes = {info.name: info.shape for info in layer_infos(loaded)}
    layers = {}
    for layer in recipe.layers:
        layers[layer] = {"shape": [int(s) for s in shapes[layer]], "channels": recipe.channels[layer],
                         "receptive_field": receptive_field(loaded, layer).as_dict()}
    return {
        "identity": identity,
        "complete": False,
        "settings": {"layers": list(recipe.layers), "top_k": settings.top_k, "shard_size": settings.shard_size,
                     "batch_size": settings.batch_size, "engine": engine},
        "model": {"name": loaded.spec.name, "display_name": loaded.spec.display_name, "digest": identity["model_digest"],
                  "input_size": loaded.spec.input_size, "preprocessing": loaded.spec.preprocessing.name,
                  "preprocessing_description": loaded.spec.preprocessing.description,
                  "embedding_layer": recipe.embedding_layer, "classes": len(loaded.class_names),
                  "choice": None if choice is None else choice.absolute().as_dict()},
        "layers": layers,
        "source": {"location": str(source.location), "kind": source.kind, "files": len(source.files)},
        "versions": _versions(),
    }


class ShardsInTurn:
    """The pending shards, gathered one after another by one writer; either engine hands rows to ``writer``.

    The first shard starts at once. ``finish`` hands the current shard's files to a writing thread,
    reports ``progress(done, total)`` and starts the next, so the model does not wait for Parquet;
    one write is under way at a time, in shard order. ``close`` waits for the last one (and raises
    its error), also when a run stops: a shard reported done is on disk when ``build_index`` returns
    or raises. A killed process loses the shard in progress and, in the milliseconds a write takes,
    the one being written.
    """

    def __init__(self, writer: _IndexWriter, pending: list, progress, done: int, total: int):
        self.writer, self._pending, self._progress = writer, iter(pending), progress
        self._done, self._total = done, total
        self._writing: Future | None = None
        self._writing_thread = ThreadPoolExecutor(1, thread_name_prefix="vizcore-index-writer")
        self.current = self._start_next()

    def _start_next(self) -> _Shard | None:
        shard = next(self._pending, None)
        if shard is not None:
            self.writer.start(shard)
        return shard

    def finish(self, skipped: list) -> _Shard | None:
        """Hand the current shard to the writing thread; the next one, now started, or None after the last."""
        write = self.writer.written(skipped)
        self._wait_for_write()
        self._writing = self._writing_thread.submit(write)
        self._done += 1
        if self._progress is not None:
            self._progress(self._done, self._total)
        self.current = self._start_next()
        return self.current

    def close(self) -> None:
        """Wait for the write under way, raising its error; the writing thread ends."""
        try:
            self._wait_for_write()
        finally:
            self._writing_thread.shutdown()

    def _wait_for_write(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()


def _run_local(source, recipe, pending, in_turn: ShardsInTurn, settings) -> None:
    from vizcore.datasets.recipe import SIDE_BY_SIDE

    writer = in_turn.writer
    items: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
    stop = threading.Event()
    reader = threading.Thread(target=_decode_into,
                              args=(source, pending, recipe.input_size, recipe.batch_size, items, stop),
                              name="vizcore-index-reader", daemon=True)
    reader.start()
    try:
        skipped: list = []
        held = None  # taken from the queue after a pair's shard ends: the next pair's first item
        while True:
            taken = _next_batches(items, SIDE_BY_SIDE, held)
            images = [_recipe_input(item) for item in taken if isinstance(item, _Batch) and item.files]
            computed = iter(recipe.map(images))
            held = _shard_ends_after(items, taken)  # so a finished shard is written now, not after the next pair
            for item in taken:  # in the reader's order: each shard's rows, then its end
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, _Shard):
                    in_turn.finish(skipped)
                    skipped = []
                    continue
                skipped.extend(item.skipped)
                if item.files:
                    writer.add(next(computed))
    finally:
        stop.set()
        reader.join()


def _next_batches(items: queue.Queue, count: int, held=None) -> list:
    """``held`` and the reader's next items, up to ``count`` batches of images with the shard ends between them (a
    pair may span two shards), or up to its end or error."""
    taken = [] if held is None else [held]
    while not taken or not _ends_the_run(taken[-1]):
        if sum(1 for item in taken if isinstance(item, _Batch) and item.files) == count:
            break
        taken.append(items.get())
    return taken


def _shard_ends_after(items: queue.Queue, taken: list):
    """Append to ``taken`` the shard ends the reader has already queued after it; the item found after them, if any."""
    if taken and _ends_the_run(taken[-1]):
        return None
    while True:
        try:
            item = items.get_nowait()
        except queue.Empty:
            return None
        if not isinstance(item, _Shard):
            return item
        taken.append(item)


def _ends_the_run(item) -> bool:
    return item is _DONE or isinstance(item, BaseException)


def _recipe_input(batch: _Batch) -> dict:
    return {
        "image": batch.images,
        "file_index": batch.file_index,
        "path": np.array([file.path for file in batch.files], dtype=object),
        "label": np.array([file.label for file in batch.files], dtype=object),
        "height": batch.sizes[:, 0],
        "width": batch.sizes[:, 1],
    }


def _merge_tops(out: Path, recipe, total_shards: int, top_k: int) -> None:
    """Every shard's top-K merged into one table, one shard in memory at a time, with each patch's box."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from vizcore.datasets.patches import ReceptiveField, box_in_original

    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    merged: dict[str, tuple[TopK, dict]] = {}
    for layer, info in manifest["layers"].items():
        merged[layer] = (TopK(top_k, info["channels"]), {})
    for number in range(total_shards):
        table = pq.read_table(out / SHARDS_DIR / f"top-{number:05d}.parquet")
        for layer, (top, about) in merged.items():
            rows = table.filter(pc.equal(table["layer"], layer))
            if not rows.num_rows:
                continue
            for file_index, path, height, width in zip(rows["file_index"].to_numpy(), rows["path"].to_pylist(),
                                                       rows["height"].to_numpy(), rows["width"].to_numpy()):
                about[int(file_index)] = (path, int(height), int(width))
            # The shard's rows as a (rank, channel) block, -inf where a channel has fewer than K.
            shape = top.activation.shape
            rank, channel = rows["rank"].to_numpy(), rows["channel"].to_numpy()
            block = {"activation": np.full(shape, -np.inf, np.float32), "file_index": np.full(shape, -1, np.int64),
                     "y": np.zeros(shape, np.int32), "x": np.zeros(shape, np.int32)}
            for name, values in block.items():
                values[rank, channel] = rows[name].to_numpy()
            top.update(block["activation"], block["file_index"], block["y"], block["x"])
        for layer, (top, about) in merged.items():  # keep only what the running top-K still refers to
            alive = set(top.file[top.file >= 0].tolist())
            for key in [key for key in about if key not in alive]:
                del about[key]
    parts = []
    for layer, (top, about) in merged.items():
        channel, rank, file, activation, y, x = top.rows()
        heights = np.array([about[int(i)][1] for i in file], dtype=np.int64)
        widths = np.array([about[int(i)][2] for i in file], dtype=np.int64)
        field_ = ReceptiveField.from_dict(manifest["layers"][layer]["receptive_field"])
        boxes = box_in_original(field_, y, x, heights, widths, recipe.input_size).reshape(-1, 4)
        parts.append(pa.table({
            "layer": pa.array([layer] * len(channel), pa.string()),
            "channel": pa.array(channel.astype(np.int32)),
            "rank": pa.array(rank.astype(np.int32)),
            "path": pa.array([about[int(i)][0] for i in file], pa.string()),
            "activation": pa.array(activation.astype(np.float32)),
            "y": pa.array(y.astype(np.int32)),
            "x": pa.array(x.astype(np.int32)),
            **{name: pa.array(boxes[:, position].astype(np.int32)) for position, name in enumerate(("x0", "y0", "x1", "y1"))},
        }))
    _write_parquet(pa.concat_tables(parts) if parts else pa.table({}), out / TOP_FILE)


def _shard_files(out: Path, total_shards: int) -> list[Path]:
    return [out / IMAGES_DIR / f"part-{number:05d}.parquet" for number in range(total_shards)]


def _skipped_in_shards(out: Path, total_shards: int) -> list:
    import pyarrow.parquet as pq

    from vizcore.datasets.sources import Skipped

    skipped = []
    for path in _shard_files(out, total_shards):
        metadata = pq.read_schema(path).metadata or {}
        skipped.extend(Skipped(item["path"], item["reason"]) for item in json.loads(metadata.get(_SKIPPED_KEY, b"[]")))
    return skipped


def _count_rows(out: Path, total_shards: int) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(path).num_rows for path in _shard_files(out, total_shards))


def _counts(out: Path, total_shards: int, files: int, skipped: int) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    images = labelled = correct = 0
    for path in _shard_files(out, total_shards):
        table = pq.read_table(path, columns=["label_index", "correct"])
        images += table.num_rows
        labelled += table.num_rows - table["label_index"].null_count
        correct += int(pc.sum(pc.cast(table["correct"], "int64")).as_py() or 0)
    return {"files": files, "images": images, "skipped": skipped, "labelled": labelled, "correct": correct}


def read_images(index_dir, columns=None):
    """The index's image rows as one pyarrow Table (``columns``: a subset, or all)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = read_manifest(index_dir)
    total = -(-manifest["source"]["files"] // manifest["settings"]["shard_size"])
    tables = [pq.read_table(path, columns=columns) for path in _shard_files(Path(index_dir), total)]
    return pa.concat_tables(tables)
