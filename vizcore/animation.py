"""Animations of long runs: a frame recorder with bounded memory, and GIF and MP4 writers.

A run (DeepDream, a filter gallery, style transfer, an occlusion sweep, an attack) reports its
progress through a callback; ``FrameRecorder.add`` keeps some of the pictures it sees. Frames
are kept sparsely, by powers of two: every frame at first, then, each time ``max_frames`` would
be exceeded, every second one of those kept (every 2nd, 4th, 8th... frame of the run), plus the
latest frame. However long the run, at most ``max_frames + 1`` pictures are held, each shrunk
to ``max_side`` px, and they stay evenly spread over the whole run.

GIFs are written with Pillow. MP4 uses OpenCV's VideoWriter with the ``mp4v`` codec (MPEG-4
Part 2), the one that opencv-python-headless's FFmpeg can write without extra libraries (its
wheels have no H.264 encoder: ``avc1`` does not open). Desktop players (VLC, QuickTime, Windows)
play it; browsers mostly do not, so the GIF is the format to share on the web.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from vizcore.errors import VizcoreError

MAX_FRAMES = 64  # frames kept by default, spread evenly over a run, plus the last one
MAX_SIDE = 384  # px, the longer side of a kept frame: bounds memory and the file's size
FRAME_SECONDS = 0.12  # how long each frame shows
LAST_FRAME_SECONDS = 1.5  # the result stays a moment before the animation loops
FORMATS = ("gif", "mp4")
MP4_CODEC = "mp4v"


def frame_from_unit(image: np.ndarray) -> np.ndarray:
    """An H x W x 3 float image in 0..1 (the optimisation loop's previews) as uint8 RGB."""
    return np.round(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def grid_frame(images: np.ndarray) -> np.ndarray:
    """A batch of B x H x W x 3 float images in 0..1 (a gallery's previews) as one near-square uint8 grid."""
    from vizcore.viz import image_grid

    return image_grid(frame_from_unit(images), columns=math.ceil(math.sqrt(len(images))))


def change_frame(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``after`` beside its change from ``before`` (equal-sized uint8 RGB), amplified to be seen: grey is no change.

    For an adversarial attack's steps, whose change is a few pixel levels: each level is multiplied
    by the largest whole factor that keeps the largest change within 0-255.
    """
    from vizcore.viz import side_by_side

    change = after.astype(np.int16) - before.astype(np.int16)
    largest = int(np.abs(change).max())
    scale = max(1, 127 // largest) if largest else 1
    return side_by_side([after, np.clip(128 + change * scale, 0, 255).astype(np.uint8)])


def _shrunk(frame: np.ndarray, max_side: int) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"a frame is H x W x 3 uint8, not {frame.shape} {frame.dtype}")
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return frame.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class FrameRecorder:
    """Keeps at most ``max_frames + 1`` frames of a run of any length, evenly spaced, and the latest.

    ``add(frame)`` takes H x W x 3 uint8 RGB pictures in the order the run makes them (their sizes
    may change, as DeepDream's octaves do); ``frames()`` returns the kept ones in order, the latest
    last. Not thread-safe: one recorder per run.
    """

    def __init__(self, max_frames: int = MAX_FRAMES, max_side: int = MAX_SIDE):
        if max_frames < 2:
            raise ValueError("a recorder keeps at least 2 frames")
        self.max_frames = max_frames
        self.max_side = max_side
        self.stride = 1  # frames kept are those whose arrival index is a multiple of this
        self.seen = 0
        self._kept: list[tuple[int, np.ndarray]] = []
        self._latest: tuple[int, np.ndarray] | None = None

    def add(self, frame: np.ndarray) -> None:
        index = self.seen
        self.seen += 1
        shrunk = _shrunk(frame, self.max_side)
        self._latest = (index, shrunk)
        if index % self.stride:
            return
        self._kept.append((index, shrunk))
        if len(self._kept) > self.max_frames:
            self.stride *= 2
            self._kept = [(kept, picture) for kept, picture in self._kept if kept % self.stride == 0]

    def frames(self) -> list[np.ndarray]:
        kept = list(self._kept)
        if self._latest is not None and (not kept or kept[-1][0] != self._latest[0]):
            kept.append(self._latest)
        return [picture for _, picture in kept]

    def __len__(self) -> int:
        return len(self.frames())


def recording(recorder: FrameRecorder, frame_of: Callable[[object], np.ndarray | None],
              on_progress: Callable[[object], None] | None = None) -> Callable[[object], None]:
    """A progress callback that adds ``frame_of(update)`` to ``recorder`` (when not None), then calls ``on_progress``."""

    def record(update) -> None:
        frame = frame_of(update)
        if frame is not None:
            recorder.add(frame)
        if on_progress is not None:
            on_progress(update)

    return record


def preview_every(steps: int, max_frames: int = MAX_FRAMES) -> int:
    """How often a run of ``steps`` steps should send a preview so a recorder sees about ``2 * max_frames`` frames."""
    return max(1, steps // (2 * max_frames))


@dataclass(frozen=True)
class Animation:
    """Frames ready to write: equal-sized H x W x 3 uint8 RGB pictures (the last frame's size)."""

    frames: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, frames: list[np.ndarray]) -> "Animation":
        """Frames of any sizes, each resized to the last one's (a run's result), so the animation ends on it."""
        if not frames:
            raise VizcoreError("There are no frames to animate: the run stopped before its first step.")
        height, width = frames[-1].shape[:2]
        same = [frame if frame.shape[:2] == (height, width)
                else cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR) for frame in frames]
        return cls(tuple(np.ascontiguousarray(frame) for frame in same))

    def durations_ms(self) -> list[int]:
        return [round(FRAME_SECONDS * 1000)] * (len(self.frames) - 1) + [round(LAST_FRAME_SECONDS * 1000)]

    def gif(self) -> bytes:
        """The animation as a looping GIF (each frame quantised to its own 256-colour palette)."""
        # Fast octree quantisation: about 6x faster than Pillow's default median cut on these frames, and smaller.
        pictures = [Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE) for frame in self.frames]
        buffer = io.BytesIO()
        # disposal 1: each frame is drawn whole over the last; optimize off so no frame is merged away
        pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=self.durations_ms(),
                         loop=0, disposal=1, optimize=False)
        return buffer.getvalue()

    def mp4(self) -> bytes:
        """The animation as an MP4 (codec ``mp4v``); VizcoreError when OpenCV here cannot write one."""
        height, width = self.frames[0].shape[:2]
        # mp4v needs even sides; a pixel of black at the edge is the usual fix
        even_height, even_width = height + height % 2, width + width % 2
        fps = 1.0 / FRAME_SECONDS
        handle, path = tempfile.mkstemp(suffix=".mp4")
        os.close(handle)
        try:
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*MP4_CODEC), fps, (even_width, even_height))
            if not writer.isOpened():
                raise VizcoreError("This installation's OpenCV cannot write MP4 video: download the GIF instead.")
            hold = max(1, round(LAST_FRAME_SECONDS / FRAME_SECONDS))
            for position, frame in enumerate(self.frames):
                padded = np.zeros((even_height, even_width, 3), np.uint8)
                padded[:height, :width] = frame
                for _ in range(hold if position == len(self.frames) - 1 else 1):
                    writer.write(cv2.cvtColor(padded, cv2.COLOR_RGB2BGR))
            writer.release()
            with open(path, "rb") as stream:
                return stream.read()
        finally:
            os.remove(path)

    def encoded(self, file_format: str) -> bytes:
        if file_format == "gif":
            return self.gif()
        if file_format == "mp4":
            return self.mp4()
        raise VizcoreError(f"Unknown animation format {file_format!r}: choose one of {', '.join(FORMATS)}.")


def mp4_available() -> bool:
    """Whether OpenCV here can write MP4 (``mp4v``): a tiny test file."""
    try:
        Animation((np.zeros((8, 8, 3), np.uint8),)).mp4()
    except VizcoreError:
        return False
    return True


def format_of(path: str) -> str:
    """``gif`` or ``mp4`` from a file name's extension; one sentence for any other."""
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension not in FORMATS:
        raise VizcoreError(f"An animation is written as .gif or .mp4, not {os.path.basename(path)!r}.")
    return extension
