"""Many threads on one model: quick requests batched together, long runs taking turns between them.

Every session of the app shares one LoadedModel, and few computations run on it at once (more
only split the same cores and multiply the memory). Two things make the line short:

- ``Turns`` decides who runs next: one quick request (a prediction, a Grad-CAM, a gradient map,
  batched) at a time, beside at most one step of a long run (filter gallery, DeepDream, style, an
  index pass).
  A quick request does not wait for the step in progress: waiting behind it cost a prediction
  up to a whole DeepDream step (median 46 ms, max 680 ms against 18 ms idle with 4 dreams
  running; beside the step, 25-27 ms and 37 ms: bench/serve.py). A step waits while any quick
  request runs or waits, and long runs take their steps round-robin, so no run starves another.
- ``Batcher`` gathers quick requests of the same kind and shape from every thread into one
  batch: the first request of a kind waits ``window`` seconds for others, then, once it holds the
  model, takes every request of that kind queued so far, runs them as one batch and hands each
  thread its own rows; it waits only when other threads have used the model within
  ``COMPANY_SECONDS``, so a lone visitor's requests go straight through. Requests keep arriving
  while the model is busy, so under load batches fill by themselves. A batch is padded (with
  copies of its first row) to the next size in ``BUCKETS``, so a traced function sees a handful
  of batch shapes, whatever the load (and ``View.traced`` generalises the batch dimension after
  the second, so a function is traced at most twice over all batch sizes).

After a burst, freed memory goes back to the system once the models have been idle
``TRIM_AFTER_IDLE_S`` (``release_memory``), and the app server keeps few malloc arenas
(``limit_malloc_arenas``), so the memory of many sessions' threads comes back.

A batched function computes each row from that row alone (the model in inference mode, per-row
class indices: see ``attribution.common.class_score``), so a row's result is the same, to float
rounding, whatever else shares its batch.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable

import numpy as np
import tensorflow as tf

from vizcore.models.derived import View

# Batch sizes a traced function sees; the last is the most rows one call takes. Not only powers of
# two: a row costs about as much as the call's fixed part on a CPU (EfficientNet-Lite0's Grad-CAM
# gradient: 7 ms + 8 ms a row), so 5 rows padded to 8 would cost 40% more than padded to 6.
BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
WINDOW_SECONDS = 0.010  # how long a request waits for others of its kind before it takes the model
# A request waits that window only when another thread asked for the model this recently: one
# visitor alone (one thread) never waits for company that is not coming.
COMPANY_SECONDS = 0.5


class Turns:
    """The model's turns: one quick request at a time beside at most one long-run step; steps round-robin.

    ``with turns:`` (or ``turns.quick()``) is a quick turn: it waits only for the quick turn in
    progress. ``turns.step()`` is one step of a long run: it waits while a quick request runs or
    waits, and behind the steps that asked before it.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._quick_busy = False
        self._step_busy = False
        self._quick_waiting = 0
        self._steps_waiting: deque = deque()  # one token per waiting step, in the order they asked

    @contextmanager
    def quick(self):
        with self._condition:
            self._quick_waiting += 1
            try:
                self._condition.wait_for(lambda: not self._quick_busy)
            finally:
                self._quick_waiting -= 1
            self._quick_busy = True
        try:
            yield
        finally:
            self._release(quick=True)

    @contextmanager
    def step(self):
        token = object()
        with self._condition:
            self._steps_waiting.append(token)
            try:
                self._condition.wait_for(
                    lambda: not self._step_busy and not self._quick_busy and not self._quick_waiting
                    and self._steps_waiting[0] is token
                )
            finally:
                self._steps_waiting.remove(token)
            self._step_busy = True
        try:
            yield
        finally:
            self._release(quick=False)

    def _release(self, quick: bool) -> None:
        with self._condition:
            if quick:
                self._quick_busy = False
            else:
                self._step_busy = False
            self._condition.notify_all()
            idle = not self._quick_waiting and not self._steps_waiting
        if idle:
            _idle_trim.soon()

    def __enter__(self):
        context = self.quick()
        context.__enter__()
        self._quick_context = context  # set once the turn is ours: one holder at a time, so one attribute
        return self

    def __exit__(self, *exc_info):
        context, self._quick_context = self._quick_context, None
        return context.__exit__(*exc_info)

    def idle(self) -> bool:
        """True when nothing runs on the model and nothing waits for it."""
        with self._condition:
            return not (self._quick_busy or self._step_busy or self._quick_waiting or self._steps_waiting)


def bucket(rows: int) -> int:
    """The batch size ``rows`` rows are padded to: the smallest bucket that holds them (or ``rows`` past the last)."""
    return next((size for size in BUCKETS if size >= rows), rows)


class _Request:
    __slots__ = ("rows", "arrays", "done", "result", "error")

    def __init__(self, arrays: tuple[np.ndarray, ...]):
        self.arrays = arrays
        self.rows = len(arrays[0])
        self.done = threading.Event()
        self.result = None
        self.error: BaseException | None = None


class Batcher:
    """Runs ``python_function(model, *shared, *rows)`` for requests from many threads, batched; see the module docstring."""

    def __init__(self, turns: Turns, window: float = WINDOW_SECONDS, max_rows: int = BUCKETS[-1]):
        self.turns = turns
        self.window = window
        self.max_rows = max_rows
        self._queues: dict[tuple, list[_Request]] = {}
        self._last_request: dict[int, float] = {}  # thread ident -> when it last asked (within COMPANY_SECONDS)
        self._lock = threading.Lock()
        self.batch_sizes: deque = deque(maxlen=256)  # rows per model call, most recent last (for tests and benches)

    def run(self, view: View, python_function: Callable, shared: tuple, rows: tuple[np.ndarray, ...]):
        """The function's outputs (numpy, nested as it returns them) for these ``rows`` alone.

        ``shared`` are hashable arguments every row of a batch has in common (a layer name);
        ``rows`` are arrays whose first axis is this request's rows (images, class indices...).
        Every output of the function must have one row per input row.
        """
        arrays = tuple(np.asarray(array) for array in rows)
        request = _Request(arrays)
        key = (view, python_function, shared, tuple((array.shape[1:], array.dtype.str) for array in arrays))
        with self._lock:
            queue = self._queues.setdefault(key, [])
            queue.append(request)
            leader = len(queue) == 1
            company = self._note_thread()
        if leader:
            self._lead(key, view, python_function, shared, wait=company)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _note_thread(self) -> bool:
        """Note this thread's request; True when another thread asked within COMPANY_SECONDS (call under the lock)."""
        now, me = time.monotonic(), threading.get_ident()
        self._last_request = {thread: seen for thread, seen in self._last_request.items() if now - seen < COMPANY_SECONDS}
        company = any(thread != me for thread in self._last_request)
        self._last_request[me] = now
        return company

    def _lead(self, key, view: View, python_function: Callable, shared: tuple, wait: bool) -> None:
        if wait:
            time.sleep(self.window)
        function = view.traced(python_function)
        requests: list[_Request] = []
        try:
            with self.turns.quick():
                with self._lock:  # everything queued until the model was ours joins this batch
                    requests = self._queues.pop(key)
                for group in self._groups(requests):
                    self._run_group(function, shared, group)
        except BaseException as error:  # every thread waiting on these requests hears of it
            if not requests:
                with self._lock:
                    requests = self._queues.pop(key, [])
            for request in requests:
                if not request.done.is_set():
                    request.error = error
                    request.done.set()
            raise

    def _groups(self, requests: list[_Request]):
        group, rows = [], 0
        for request in requests:
            if group and rows + request.rows > self.max_rows:
                yield group
                group, rows = [], 0
            group.append(request)
            rows += request.rows
        if group:
            yield group

    def _run_group(self, function: Callable, shared: tuple, group: list[_Request]) -> None:
        columns = [np.concatenate(parts) if len(parts) > 1 else parts[0]
                   for parts in zip(*(request.arrays for request in group))]
        rows = len(columns[0])
        padding = bucket(rows) - rows
        if padding:
            columns = [np.concatenate([column, np.repeat(column[:1], padding, axis=0)]) for column in columns]
        try:
            outputs = function(*shared, *(tf.constant(column) for column in columns))
            outputs = tf.nest.map_structure(np.asarray, outputs)
        except BaseException as error:
            for request in group:
                request.error = error
                request.done.set()
            return
        self.batch_sizes.append(rows)
        start = 0
        for request in group:
            end = start + request.rows
            # A copy: a view would keep the whole batch's buffers alive for as long as one caller keeps its rows.
            request.result = tf.nest.map_structure(lambda output: output[start:end].copy(), outputs)
            request.done.set()
            start = end


TRIM_AFTER_IDLE_S = 2.0  # a model idle this long hands its freed memory back (see release_memory)


class _IdleTrim:
    """Calls ``release_memory`` once no model has gone idle for TRIM_AFTER_IDLE_S: after a burst, not during one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last_idle = 0.0

    def soon(self) -> None:
        with self._lock:
            self._last_idle = time.monotonic()
            if self._timer is None:
                self._start(TRIM_AFTER_IDLE_S)

    def _start(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            quiet_for = time.monotonic() - self._last_idle
            if quiet_for < TRIM_AFTER_IDLE_S:  # the model was used since: wait until it has been quiet long enough
                self._start(TRIM_AFTER_IDLE_S - quiet_for)
                return
            self._timer = None
        release_memory()


_idle_trim = _IdleTrim()


M_ARENA_MAX = -8  # glibc's mallopt parameter behind the MALLOC_ARENA_MAX variable
SERVER_MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVER_MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (for threads that start from now on), as MALLOC_ARENA_MAX=2 would at start-up.

    For the app server: by default glibc gives threads up to 8 arenas per core, and each session's
    thread leaves its freed TensorFlow buffers in its own arena. bench/serve_sessions.py, 8 sessions
    on 2 cores, RSS 10 s after their browsers closed: +514 MB over warm with glibc's default,
    +240 MB with this call (arenas made before it stay), +53 MB with MALLOC_ARENA_MAX=2 set at
    start-up (``make run`` sets it). A MALLOC_ARENA_MAX the server was started with wins; False
    where there is no glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):
        return False


def release_memory() -> bool:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim); False where there is no glibc.

    TensorFlow's CPU buffers come from malloc: after a burst of requests from many threads, freed
    buffers stay in the threads' malloc arenas and the process's resident memory stays at its peak
    until they are trimmed.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
