"""Long runs on a page: a Run button, then Stop, progress every step, a live preview, and kept results.

Streamlit cannot interrupt a running script from outside; a click on Stop starts a new run, and
Streamlit ends the current one at its next element update. The progress bar is updated every
step, so that happens within one step; the last preview is kept in session state and shown as a
stopped result. Finished results go into a process-wide store keyed by the request, so coming
back to the same settings (in any session) is instant; a run cut short by the time cap is shown
but not kept.

A run reports progress with any update that has ``step`` and ``steps``: the optimisation loop's
``Progress``, or a ``PartialMap`` for attribution methods, whose ``progress(done, total, partial)``
callback ``partial_map_progress`` turns into one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import streamlit as st

from vizcore import cached, limits
from vizcore.errors import VizcoreError


@dataclass(frozen=True)
class StoppedRun:
    step: int
    steps: int
    preview: np.ndarray  # the last live preview, uint8


@dataclass(frozen=True)
class PartialMap:
    """An attribution method's progress: ``step`` of ``steps`` units done, and the map from those alone."""

    step: int
    steps: int
    values: np.ndarray  # S x S, in the final map's units


def partial_map_progress(on_progress: Callable[[PartialMap], None]) -> Callable[[int, int, np.ndarray], None]:
    """The ``progress(done, total, partial)`` callback of an attribution method, reporting to ``on_progress``."""
    return lambda done, total, partial: on_progress(PartialMap(done, total, partial))


def live_run(
    name: str,
    request: tuple,
    button_label: str,
    work: Callable[[Callable], object],
    preview_of: Callable[[object], np.ndarray | None],
    caption_of: Callable[[object], str] = lambda update: f"Live preview, step {update.step}",
    unit: str = "steps",
    preview_interval_s: float = 0.0,
) -> object | StoppedRun | None:
    """The finished result for ``request``, a StoppedRun after Stop, or None before the first run.

    ``work(on_progress)`` does the computation and calls ``on_progress(update)`` with updates that
    have ``step`` and ``steps`` (``unit`` names what they count, e.g. "patches"); a result with a
    true ``stopped`` attribute reached the time cap and is not kept. ``preview_of(update)`` turns
    an update into a picture (or None when there is nothing new to show); it is asked at most once
    per ``preview_interval_s`` seconds, and always for the last step.
    """
    store = cached.result_store(name)
    result = store.get(request)
    if result is not None:
        return result
    partial_key, started_key = f"{name}_partial", f"{name}_started"
    partial = st.session_state.get(partial_key)
    stopped_here = partial is not None and partial[0] == request
    warning = st.empty()
    controls = st.empty()

    def start() -> None:
        st.session_state[started_key] = request

    # Run and Stop are one button (one key) whose label changes in place: a different button drawn
    # over it would leave it showing, faded, beside Stop until the run ends (Streamlit 1.67). So
    # the click is read from the callback's flag, before the button is drawn.
    if st.session_state.pop(started_key, None) != request:
        controls.button(button_label, type="primary", key=f"{name}_run", on_click=start)
        if stopped_here:
            stopped = partial[1]
            warning.warning(
                f"Stopped after {stopped.step} of {stopped.steps} {unit}; below is the preview from that point. "
                "Run again to finish it."
            )
            return stopped
        st.info(f"Nothing computed for these settings yet: press {button_label}. Finished results are kept, so coming back is instant.")
        return None
    controls.button("Stop", key=f"{name}_run", help="Ends the run after the current step and keeps the last preview.")
    progress = st.progress(0.0, text="Starting…")
    preview = st.empty()
    last_preview = [-float("inf")]

    def show(update) -> None:
        progress.progress(min(update.step / update.steps, 1.0), text=f"{update.step} of {update.steps} {unit}")
        now = time.perf_counter()
        if update.step < update.steps and now - last_preview[0] < preview_interval_s:
            return
        last_preview[0] = now
        picture = preview_of(update)
        if picture is not None:
            preview.image(picture, caption=caption_of(update))
            st.session_state[partial_key] = (request, StoppedRun(update.step, update.steps, picture))

    try:
        result = work(show)
    except Exception as error:  # not BaseException: Streamlit's own stop and rerun signals pass through untouched
        for placeholder in (controls, progress, preview):
            placeholder.empty()
        if isinstance(error, VizcoreError):
            st.error(str(error))
            return None
        raise
    if getattr(result, "stopped", False):  # the server's time cap (vizcore/limits.py): show it, do not keep it
        st.warning(f"This run reached the {limits.MAX_SECONDS:.0f} s time limit and stopped; below is how far it got. "
                   "Fewer steps or a smaller size will finish.")
    else:
        store.put(request, result)
    st.session_state.pop(partial_key, None)
    for placeholder in (controls, progress, preview):
        placeholder.empty()
    return result
