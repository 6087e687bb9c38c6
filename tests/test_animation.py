"""Animations: a recorder that stays bounded however long the run, GIF and MP4 files that decode, and --animate."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageSequence

from test_cli import assert_one_sentence_error, run_cli
from vizcore import animation
from vizcore.errors import VizcoreError


def numbered_frame(index: int, side: int = 8) -> np.ndarray:
    """A frame that carries its arrival index in its first two pixels' red channel."""
    frame = np.zeros((side, side, 3), np.uint8)
    frame[0, 0, 0], frame[0, 1, 0] = index // 256, index % 256
    return frame


def index_of(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) * 256 + int(frame[0, 1, 0])


def moving_square(count: int, size=(48, 64)) -> list[np.ndarray]:
    frames = []
    for position in range(count):
        frame = np.full((*size, 3), 30, np.uint8)
        frame[10:26, 4 + 6 * position : 20 + 6 * position] = (250, 200, 40)
        frames.append(frame)
    return frames


def test_a_long_run_keeps_a_bounded_evenly_spread_selection_and_the_last_frame():
    recorder = animation.FrameRecorder(max_frames=16)
    sizes = []
    for index in range(10_000):
        recorder.add(numbered_frame(index))
        sizes.append(len(recorder))
    kept = [index_of(frame) for frame in recorder.frames()]
    assert max(sizes) <= 17  # at most max_frames, plus the latest
    assert kept[0] == 0 and kept[-1] == 9_999
    gaps = np.diff(kept[:-1])
    assert len(set(gaps)) == 1 and gaps[0] == recorder.stride  # evenly spaced: every stride-th frame
    assert 9_999 - kept[-2] <= recorder.stride  # the spacing reaches the end of the run
    assert len(kept) >= 9  # thinning halves, never empties


def test_frames_are_shrunk_to_the_side_cap():
    recorder = animation.FrameRecorder(max_side=100)
    recorder.add(np.zeros((400, 1000, 3), np.uint8))
    assert recorder.frames()[0].shape == (40, 100, 3)


def test_gif_frames_decode_and_differ():
    frames = moving_square(6)
    frames[0] = cv2.resize(frames[0], (32, 24))  # an earlier octave: smaller, resized to the last frame's size
    data = animation.Animation.of(frames).gif()
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF" and gif.size == (64, 48)
        decoded = [np.asarray(frame.convert("RGB")).astype(int) for frame in ImageSequence.Iterator(gif)]
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    assert len(decoded) == 6
    assert all(np.abs(after - before).mean() > 1 for before, after in zip(decoded, decoded[1:]))
    assert np.abs(decoded[-1] - frames[-1]).max() <= 8  # the last frame is the run's result (palette rounding)
    assert durations[-1] > durations[0]  # the result stays a moment before the loop


def test_mp4_is_written_with_opencv_and_reads_back(tmp_path):
    path = tmp_path / "run.mp4"
    path.write_bytes(animation.Animation.of(moving_square(5, size=(47, 63))).mp4())  # odd sides are padded
    video = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame)
    video.release()
    hold = round(animation.LAST_FRAME_SECONDS / animation.FRAME_SECONDS)
    assert len(frames) == 4 + hold and frames[0].shape == (48, 64, 3)
    assert np.abs(frames[0].astype(int) - frames[3].astype(int)).mean() > 1


def test_an_animation_is_a_gif_or_an_mp4():
    assert animation.format_of("Run.GIF") == "gif"
    with pytest.raises(VizcoreError, match="as .gif or .mp4"):
        animation.format_of("run.avi")
    with pytest.raises(VizcoreError, match="no frames"):
        animation.Animation.of([])


def test_occlusion_animate_writes_the_sweep_as_a_gif(tmp_path):
    path = tmp_path / "sweep.gif"
    result = run_cli("occlusion", "sample:chelsea", "--patch", "56", "--stride", "56", "--animate", path)
    assert result.returncode == 0, result.stderr
    with Image.open(path) as gif:
        frames = [np.asarray(frame.convert("RGB")).astype(int) for frame in ImageSequence.Iterator(gif)]
    assert len(frames) == 2  # 16 patches, two chunks of 8: the map after each
    assert np.abs(frames[1] - frames[0]).mean() > 1


def test_dream_animate_writes_an_mp4_across_its_octaves(tmp_path):
    path = tmp_path / "dream.mp4"
    result = run_cli("dream", "sample:chelsea", "--octaves", "1", "--steps", "3", "--animate", path)
    assert result.returncode == 0, result.stderr
    video = cv2.VideoCapture(str(path))
    count = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    video.release()
    hold = round(animation.LAST_FRAME_SECONDS / animation.FRAME_SECONDS)
    assert count == 3 - 1 + hold  # a frame per step, the last held


def test_a_bad_animation_path_is_one_sentence(tmp_path):
    line = assert_one_sentence_error(run_cli("dream", "sample:chelsea", "--animate", tmp_path / "dream.avi"))
    assert "as .gif or .mp4" in line


def test_an_attack_frame_shows_the_image_beside_its_change_amplified():
    before = np.full((4, 4, 3), 100, np.uint8)
    after = before.copy()
    after[0, 0, 0] = 102  # two levels up
    frame = animation.change_frame(before, after)
    assert frame.shape == (4, 4 + 2 + 4, 3)  # side by side, a 2 px gap
    change = frame[:, 6:].astype(int)
    assert change[0, 0, 0] == 128 + 2 * 63 and (change[1:] == 128).all()  # grey is no change
