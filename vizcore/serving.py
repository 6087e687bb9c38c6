"""Where the app's quick computations run: in its own process (the default), or on a shared Ray Serve deployment.

``VIZCORE_BACKEND=ray`` sends predictions and attribution maps of the built-in models to a Ray
Serve application (``vizcore serve-models`` starts it): several app processes (replicas behind a
sticky-session proxy) then share one pool of model workers, on GPUs where there are any. A worker
runs vizcore's own functions, the same code as in-process: ``@serve.batch`` gathers requests from
every app replica, and the worker runs each in a thread so that its model's batcher
(vizcore/models/batching.py) puts them through the model as one batch. Uploaded models never
leave the session that uploaded them, so they always run in-process; so do long runs (filter
gallery, DeepDream, style), whose live previews need every step in the app.

Ray is optional (``pip install -r requirements-ray.txt``) and imported only when this backend is
chosen.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from vizcore.errors import VizcoreError

BACKEND_VARIABLE = "VIZCORE_BACKEND"
IN_PROCESS, RAY = "in-process", "ray"
APP_NAME = "vizcore"
DEPLOYMENT_NAME = "ModelWorker"
MAX_BATCH = 8  # requests one @serve.batch call gathers
BATCH_WAIT_S = 0.005
MAX_ONGOING_REQUESTS = 32  # per replica: enough to fill a batch from every app replica
REQUEST_TIMEOUT_S = 120.0
INSTALL_HINT = "The Ray Serve backend needs Ray Serve: pip install -r requirements-ray.txt (or pip install \"ray[serve]\")."


def backend_name() -> str:
    """The backend ``VIZCORE_BACKEND`` chooses: ``in-process`` (unset or empty) or ``ray``."""
    name = os.environ.get(BACKEND_VARIABLE, "").strip().lower() or IN_PROCESS
    if name not in (IN_PROCESS, RAY):
        raise VizcoreError(f"{BACKEND_VARIABLE} must be {IN_PROCESS!r} or {RAY!r}, not {name!r}.")
    return name


def _import_serve():
    try:
        import ray
        from ray import serve
    except ImportError:
        raise VizcoreError(INSTALL_HINT) from None
    return ray, serve


def _library_functions() -> dict:
    from vizcore import attribution, predictions

    return {
        "class_probabilities": predictions.class_probabilities,
        "top_predictions": predictions.top_predictions,
        "explain": attribution.explain,
    }


def compute(models: dict, request: tuple):
    """One request as a worker runs it: ``(function, model name, pixels, options)`` -> the library function's result.

    The functions are ``predictions.class_probabilities``, ``predictions.top_predictions`` and
    ``attribution.explain``, called as ``function(model, pixels, **options)``.
    """
    function, model_name, pixels, options = request
    return _library_functions()[function](models[model_name], pixels, **options)


def worker_class():
    """The Ray Serve deployment: loads the models it serves once, batches requests, runs them with vizcore."""
    _, serve = _import_serve()

    @serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=MAX_ONGOING_REQUESTS)
    class ModelWorker:
        def __init__(self, model_names: tuple[str, ...]):
            import vizcore

            self.models = {name: vizcore.load_model(name) for name in model_names}
            self.threads = ThreadPoolExecutor(MAX_BATCH)  # one per request of a batch: the model's batcher joins them

        def model_names(self) -> tuple[str, ...]:
            return tuple(self.models)

        @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WAIT_S)
        async def __call__(self, requests: list[tuple]) -> list:
            # A user's mistake (a bad class index) comes back as its VizcoreError, raised by the caller.
            loop = asyncio.get_running_loop()
            return await asyncio.gather(
                *(loop.run_in_executor(self.threads, compute, self.models, request) for request in requests),
                return_exceptions=True,
            )

    return ModelWorker


def deploy(model_names: tuple[str, ...], replicas: int = 1, cpus_per_replica: float = 1.0, gpus_per_replica: float = 0.0):
    """Start (or update) the Ray Serve application on the Ray cluster this process is connected to."""
    _, serve = _import_serve()
    worker = worker_class().options(
        num_replicas=replicas, ray_actor_options={"num_cpus": cpus_per_replica, "num_gpus": gpus_per_replica},
    )
    return serve.run(worker.bind(tuple(model_names)), name=APP_NAME, route_prefix=None)


def connect_cluster():
    """Join the Ray cluster at RAY_ADDRESS (default: the one running on this machine); returns ``ray.serve``."""
    ray, serve = _import_serve()
    address = os.environ.get("RAY_ADDRESS", "auto")
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise VizcoreError(
                f"No Ray cluster at {address} ({type(error).__name__}): start one with `ray start --head`, "
                f"or set RAY_ADDRESS."
            ) from error
    return serve


def _connect():
    """A handle to the running deployment."""
    serve = connect_cluster()
    try:
        return serve.get_deployment_handle(DEPLOYMENT_NAME, app_name=APP_NAME)
    except (RuntimeError, ValueError, KeyError) as error:
        raise VizcoreError(
            f"{BACKEND_VARIABLE}=ray but the Ray cluster serves no vizcore models ({type(error).__name__}): "
            f"start them with `vizcore serve-models`."
        ) from error


class RayBackend:
    """The app's side: sends requests to the deployment and waits for their results (numpy, as in-process)."""

    def __init__(self, handle=None, timeout_s: float = REQUEST_TIMEOUT_S):
        self.timeout_s = timeout_s
        if handle is None:
            handle = _connect()
        self.handle = handle
        try:
            self.model_names = frozenset(handle.model_names.remote().result(timeout_s=timeout_s))
        except Exception as error:  # Ray's own errors: no application, no replica, a timeout
            raise VizcoreError(
                f"{BACKEND_VARIABLE}=ray but the vizcore models on Ray do not answer ({type(error).__name__}): "
                f"start them with `vizcore serve-models`."
            ) from error

    def serves(self, model_name: str) -> bool:
        return model_name in self.model_names

    def _call(self, request: tuple):
        try:
            result = self.handle.remote(request).result(timeout_s=self.timeout_s)
        except Exception as error:  # Ray's own: the worker died, the application is gone, a timeout
            raise VizcoreError(
                f"The shared model backend did not answer ({type(error).__name__}): try again in a moment."
            ) from error
        if isinstance(result, BaseException):  # vizcore's own error (or bug) in the worker, as in-process
            raise result
        return result

    def class_probabilities(self, model_name: str, pixels: np.ndarray) -> np.ndarray:
        """As ``predictions.class_probabilities``, on the named model."""
        return self._call(("class_probabilities", model_name, np.asarray(pixels), {}))

    def top_predictions(self, model_name: str, pixels: np.ndarray, top_k: int = 5) -> list:
        """As ``predictions.top_predictions``, on the named model."""
        return self._call(("top_predictions", model_name, np.asarray(pixels), {"top_k": top_k}))

    def explain(self, model_name: str, pixels: np.ndarray, method: str, class_index: int | None = None,
                layer: str | None = None, **options):
        """As ``attribution.explain``, on the named model: an AttributionMap."""
        options = {"method": method, "class_index": class_index, "layer": layer, **options}
        return self._call(("explain", model_name, np.asarray(pixels), options))


_backend: RayBackend | None = None
_backend_lock = threading.Lock()


def remote_backend(model_name: str) -> RayBackend | None:
    """The Ray backend when ``VIZCORE_BACKEND=ray`` and it serves ``model_name``; None: compute in-process."""
    global _backend
    if backend_name() != RAY:
        return None
    with _backend_lock:
        if _backend is None:
            _backend = RayBackend()
    return _backend if _backend.serves(model_name) else None
