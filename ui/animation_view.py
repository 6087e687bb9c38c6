"""A long run's animation on a page: its frames recorded while it runs, GIF and MP4 downloads once it has finished.

The frames are the pictures the run's progress updates already carry (vizcore/animation.py keeps
a bounded, evenly spread selection of them). A finished run's animation is encoded once and kept
next to the run's result, in a store of its own keyed by the same request, so coming back to the
same settings offers it again; a stopped run keeps none.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from vizcore import animation, cached
from vizcore.errors import VizcoreError


class RunAnimation:
    """The animation of the run ``name`` for ``request`` (the same name and request as its ``live_run``)."""

    def __init__(self, name: str, request: tuple):
        self.name = name
        self.request = request
        self.store = cached.result_store(f"{name}_animation")
        self.recorder = animation.FrameRecorder()

    def recording(self, on_progress: Callable, frame_of: Callable[[object], np.ndarray | None]) -> Callable:
        """A progress callback for the run: records ``frame_of(update)`` (None: no frame), then calls ``on_progress``."""
        self.recorder = animation.FrameRecorder()  # a new run starts a new recording
        return animation.recording(self.recorder, frame_of, on_progress)

    def keep(self, result):
        """Encode and keep the animation of a run that finished (not one the time cap stopped); return ``result``."""
        if not getattr(result, "stopped", False) and self.recorder.seen:
            movie = animation.Animation.of(self.recorder.frames())
            try:
                mp4 = movie.mp4()
            except VizcoreError:  # this OpenCV cannot write MP4: the GIF alone
                mp4 = None
            self.store.put(self.request, (movie.gif(), mp4, len(movie.frames)))
        return result

    def downloads(self, gif_column, mp4_column, file_stem: str) -> None:
        """GIF and MP4 download buttons for the finished run's animation, when there is one."""
        kept = self.store.get(self.request)
        if kept is None:
            return
        gif, mp4, frames = kept
        gif_column.download_button("Animation GIF", gif, f"{file_stem}.gif", "image/gif", key=f"{self.name}_gif",
                                   help=f"The run in {frames} frames, evenly spread over its steps; it loops.")
        if mp4 is not None:
            mp4_column.download_button("Animation MP4", mp4, f"{file_stem}.mp4", "video/mp4", key=f"{self.name}_mp4",
                                       help="The same frames as MPEG-4 video (mp4v): plays in VLC, QuickTime and "
                                            "desktop players, not in most browsers.")
