"""The index pass on Ray Data: the same recipe class in an actor pool, the same shards as the local engine.

Ray is optional (``pip install -r requirements-ray.txt``) and imported only when this engine is
chosen. The pending files become a dataset of (file index, entry name) rows; ``map_batches``
reads and decodes each file with vizcore's own decoder (``EntryReader``: not Ray's image reader,
which would skip vizcore's checks) in plain tasks, then runs ``RayRecipe`` in an actor pool: each
actor loads the model once (a model file passes the same checks in every actor) and wraps
``IndexRecipe``. Results stream back to the driver in file order, where the local engine's
writer turns them into the same Parquet shards, so the two engines' indexes have one layout and
agree to float rounding, and resuming works the same way.

On a small machine the actors must leave CPU for the read tasks: with every CPU held by actors
the reads starve and the dataset hangs without an error. Each actor therefore asks for
``ACTOR_CPUS`` and the local Ray gets one CPU more than the actors hold.

Two ways Ray can take its caller down are closed in ``start_ray``: a cluster address that does not
answer (``ray.init`` waits minutes, then raises SystemExit) is tried first with a short timeout, and
a Ray started from a thread that ends (a Streamlit script run) is started from a thread that lasts
as long as the process instead, because Ray's own processes die with the thread that started them.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading

import numpy as np

from vizcore.errors import VizcoreError

INSTALL_HINT = "The Ray engine needs Ray: pip install -r requirements-ray.txt (or pip install \"ray[data]\")."
ACTOR_CPUS = 1
# Below the actors' 1 CPU: Ray then keeps decoding in its own tasks, overlapped with the model, instead of
# fusing it into the actors (it fuses map stages only when their resource requests are equal).
DECODE_CPUS = 0.5
OK = ""  # the reason column of a file that decoded
CLIENT_PORT = 10001  # a ray:// address without a port
ANSWER_SECONDS = 3.0


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise VizcoreError(INSTALL_HINT) from None
    return ray


def decode_batch(batch: dict, reader, size: int) -> dict:
    """Ray task: read and decode each entry, fitted to ``size``; a file that cannot be used keeps its sentence."""
    count = len(batch["entry"])
    images = np.zeros((count, size, size, 3), dtype=np.uint8)
    heights, widths = np.zeros(count, np.int32), np.zeros(count, np.int32)
    reasons = []
    for row, entry in enumerate(batch["entry"]):
        decoded = reader.decode_fitted(str(entry), size)
        if isinstance(decoded, str):
            reasons.append(decoded)
            continue
        reasons.append(OK)
        images[row], (heights[row], widths[row]) = decoded
    return {**{name: batch[name] for name in ("file_index", "path", "label")}, "image": images,
            "height": heights, "width": widths, "reason": np.array(reasons, dtype=object)}


class RayRecipe:
    """``IndexRecipe`` for an actor: built from a picklable model choice, it skips the rows that did not decode."""

    def __init__(self, choice: dict, layers: tuple, batch_size: int):
        from vizcore.datasets.recipe import IndexRecipe, ModelChoice

        self.recipe = IndexRecipe(ModelChoice(**choice).load(), layers, batch_size)

    def __call__(self, batch: dict) -> dict:
        """Up to ``SIDE_BY_SIDE`` recipe batches of rows, run side by side (``IndexRecipe.map``), as the local engine does."""
        decoded = np.asarray([reason == OK for reason in batch["reason"]], dtype=bool)
        inputs = {name: np.asarray(value)[decoded] for name, value in batch.items() if name != "reason"}
        outputs = self._side_by_side(inputs) if decoded.any() else None
        result = {}
        for name, value in (outputs or {}).items():
            full = np.zeros((len(decoded), *np.shape(value)[1:]), dtype=np.asarray(value).dtype)
            full[decoded] = value
            result[name] = full
        if outputs is None:
            result.update(self._empty(len(decoded)))
        for name in ("file_index", "path", "label", "height", "width", "reason"):
            result[name] = np.asarray(batch[name])
        return result

    def _side_by_side(self, inputs: dict) -> dict:
        size = self.recipe.batch_size
        count = len(inputs["image"])
        parts = self.recipe.map([{name: value[start : start + size] for name, value in inputs.items()}
                                 for start in range(0, count, size)])
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _empty(self, count: int) -> dict:
        empty = {"top_classes": np.zeros((count, 5), np.int32), "top_probabilities": np.zeros((count, 5), np.float32),
                 "embedding": np.zeros((count, self.recipe.embedding_size), np.float16)}
        for layer, channels in self.recipe.channels.items():
            empty[f"{layer}/max"] = np.zeros((count, channels), np.float32)
            empty[f"{layer}/y"] = np.zeros((count, channels), np.int32)
            empty[f"{layer}/x"] = np.zeros((count, channels), np.int32)
        return empty


def _blocks_of(rows: list[dict], batch_size: int) -> list:
    """The rows as Arrow tables of exactly ``batch_size`` rows (the last one shorter): one Ray block each.

    Blocks that do not divide into whole batches leave a remainder batch per block, which the actor pads
    to a full forward pass: evenly split blocks of 33 rows cost a second, one-image pass for each.
    """
    import pyarrow as pa

    return [pa.Table.from_pylist(rows[start : start + batch_size]) for start in range(0, len(rows), batch_size)]


def available() -> bool:
    """Ray is installed (checked without importing it)."""
    return importlib.util.find_spec("ray") is not None


def place(address: str | None) -> str:
    """Where the engine runs, in words: the cluster's address, or a local Ray."""
    return f"the Ray cluster at {address}" if address else "a local Ray on this machine"


def _host_and_port(address: str) -> tuple[str, int] | None:
    """What ``address`` ("host:port" or "ray://host[:port]") connects to; None for a form without one ("auto")."""
    rest = address.removeprefix("ray://")
    host, colon, port = rest.rpartition(":")
    if colon and port.isdigit():
        return host.strip("[]"), int(port)
    return (rest, CLIENT_PORT) if address.startswith("ray://") else None


def _check_answers(address: str) -> None:
    target = _host_and_port(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=ANSWER_SECONDS).close()
    except OSError:
        raise VizcoreError(f"The Ray cluster at {address} does not answer, so the index cannot be built there; "
                           "use the local engine, or have the cluster's address checked.") from None


def _init(ray, options: dict) -> None:
    """``ray.init`` from the main thread, or else from a thread that lives as long as the process."""
    if threading.current_thread() is threading.main_thread():
        ray.init(**options)
        return
    started, failures = threading.Event(), []

    def keep_ray() -> None:
        try:
            ray.init(**options)
        except BaseException as error:  # SystemExit included: handed to the caller's thread
            failures.append(error)
            return
        finally:
            started.set()
        threading.Event().wait()  # Ray's processes live while this thread does

    threading.Thread(target=keep_ray, name="vizcore-ray", daemon=True).start()
    started.wait()
    if failures:
        raise failures[0]


def start_ray(address: str | None, actors: int):
    """Connect to ``address``, or start a local Ray sized for ``actors`` actors plus the read tasks.

    Raises VizcoreError with one sentence when Ray is missing, the cluster does not answer, or Ray
    cannot start.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        options = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        if address:
            _check_answers(address)
            options["address"] = address
        else:
            options["num_cpus"] = max(os.cpu_count() or 1, actors * ACTOR_CPUS + 1)
        try:
            _init(ray, options)
        except (Exception, SystemExit) as error:
            raise VizcoreError(failure_sentence(error, address)) from None
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # batches come back in file order: shards complete in turn
    context.enable_progress_bars = False  # --json keeps stdout clean; Ray's bars go to stderr anyway
    return ray


def failure_sentence(error: BaseException, address: str | None) -> str:
    """A Ray failure as one sentence: the vizcore sentence a worker raised, else what failed where."""
    seen = error
    while seen is not None:
        for candidate in (seen, getattr(seen, "cause", None)):  # Ray wraps a worker's error; .cause is the original
            if isinstance(candidate, VizcoreError) and "\n" not in str(candidate):
                return str(candidate)
        seen = seen.__cause__
    return f"Ray could not run the index pass on {place(address)} ({type(error).__name__}); try the local engine."


def run_ray(source, choice, layers, pending, in_turn, batch_size: int, input_size: int, address: str | None = None,
            actors: int = 1) -> None:
    """Every file of the ``pending`` shards through Ray; each shard written (``in_turn``, index.ShardsInTurn) once all
    its rows are back."""
    from vizcore.datasets.recipe import SIDE_BY_SIDE

    if choice is None:
        raise VizcoreError("The Ray engine loads the model in each worker, so it needs a registry model or a model file.")
    ray = start_ray(address, actors)
    rows = [{"file_index": index, "path": file.path, "label": file.label or "", "entry": source.entry(file)}
            for shard in pending for index, file in shard.files]
    if not rows:
        return
    dataset = ray.data.from_arrow(_blocks_of(rows, batch_size))
    dataset = dataset.map_batches(decode_batch, fn_kwargs={"reader": source.reader(), "size": input_size},
                                  batch_size=batch_size, batch_format="numpy", num_cpus=DECODE_CPUS)
    dataset = dataset.map_batches(RayRecipe, fn_constructor_kwargs={"choice": choice.absolute().as_dict(),
                                                                    "layers": tuple(layers), "batch_size": batch_size},
                                  batch_size=batch_size * SIDE_BY_SIDE, batch_format="numpy",
                                  compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=ACTOR_CPUS)
    try:
        _write_in_turn(dataset.iter_batches(batch_size=None, batch_format="numpy"), in_turn)
    except ray.exceptions.RayError as error:  # an actor or task failed; a Stop from ``progress`` passes through
        raise VizcoreError(failure_sentence(error, address)) from None


def _write_in_turn(batches, in_turn) -> None:
    from vizcore.datasets.sources import Skipped

    writer = in_turn.writer
    remaining = len(in_turn.current.files)
    skipped: list = []
    for batch in batches:
        position = 0
        count = len(batch["file_index"])
        while position < count:
            take = min(remaining, count - position)
            part = {name: np.asarray(value)[position : position + take] for name, value in batch.items()}
            position += take
            remaining -= take
            ok = np.array([reason == OK for reason in part["reason"]], dtype=bool)
            skipped.extend(Skipped(str(path), str(reason)) for path, reason in zip(part["path"][~ok], part["reason"][~ok]))
            if ok.any():
                labels = [str(label) or None for label in part["label"][ok]]
                writer.add({**{name: value[ok] for name, value in part.items() if name not in ("label", "reason")},
                            "label": np.array(labels, dtype=object)})
            if remaining == 0:
                shard = in_turn.finish(skipped)
                skipped = []
                if shard is None:
                    return
                remaining = len(shard.files)
