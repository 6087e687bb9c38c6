"""The hostile image corpus (tests/hostile_images.py) through the library, the CLI and the app.

For every case: ``vizcore.decode_image`` refuses it with one sentence or decodes it to sane RGB
meeting the case's promise, quickly and within a memory budget, writing nothing beside it.

The CLI: starting ``python -m vizcore`` costs about 5 s (TensorFlow loads before the image is
read), so every refused case and a few accepted ones go through ``vizcore.cli.main`` inside this
process, with the real stdout and stderr file descriptors captured (accepted: only two, as each
loads the model). Two (the TIFF whose reading makes Pillow warn, which only a real process
would print, and a CMYK JPEG) also run as real subprocesses, side by side, to check the exit status and
that nothing but the sentence reaches stderr. The whole module takes about 1.5 minutes.

The app: one AppTest session uploads a good photo, then every refused file in turn; each must
give one sidebar error and leave the photo's predictions in place. Streamlit itself refuses a
file whose extension the uploader does not list, so those cases are uploaded renamed to
``<name>.png``, as a user would have to.
"""

from __future__ import annotations

import contextlib
import io
import json
import mimetypes
import os
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image
from streamlit.testing.v1 import AppTest

import vizcore
from hostile_images import CASES, Accepted, Refused
from ui.sidebar import UPLOAD_TYPES
from test_app import APP, _upload, assert_healthy, chart_labels
from test_images import assert_one_sentence, assert_rgb_array
from vizcore import cli
from vizcore.errors import VizcoreError

ROOT = Path(__file__).resolve().parent.parent
REFUSED = [name for name, (_, expectation) in CASES.items() if isinstance(expectation, Refused)]
ACCEPTED = [name for name, (_, expectation) in CASES.items() if isinstance(expectation, Accepted)]
CLI_ACCEPTED_SUBSET = ["jpeg_exif_orientation_6", "gif_1000_frames"]  # each loads the model: ~4 s
SUBPROCESS_SUBSET = ["tiff_huge_strip_count", "cmyk_jpeg"]

# Budgets for one decode. Refusals must come from the header; an accepted image may cost its
# Pillow copy (up to 4 bytes a pixel) and the RGB result (3 bytes a pixel), plus a little.
REFUSAL_SECONDS = 2.0
ACCEPT_SECONDS_PER_MEGAPIXEL = 0.5
BASE_MEMORY_MB = 48
BYTES_PER_OUTPUT_PIXEL = 8
COFFEE_LABELS = ("espresso", "cup", "coffee mug")


def test_the_corpus_is_broad():
    assert len(CASES) >= 30
    assert len(REFUSED) >= 15 and len(ACCEPTED) >= 15
    assert set(CLI_ACCEPTED_SUBSET + SUBPROCESS_SUBSET) <= set(CASES)


# --- library ---------------------------------------------------------------------------


def _status_megabytes(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1)) // 1024


@contextlib.contextmanager
def peak_memory_growth():
    """Yields a dict whose "mb" becomes the peak resident-memory growth (MB) inside the block.

    Linux only: writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current size.
    Elsewhere "mb" stays None and only time is checked.
    """
    result = {"mb": None}
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_megabytes("VmRSS")
    except OSError:
        yield result
        return
    yield result
    result["mb"] = _status_megabytes("VmHWM") - before


@pytest.mark.parametrize("name", list(CASES))
def test_library_refuses_or_decodes_within_budget(name, tmp_path):
    write, expectation = CASES[name]
    path = write(tmp_path)
    data = path.read_bytes()

    started = time.perf_counter()
    with peak_memory_growth() as memory:
        try:
            outcome = vizcore.decode_image(data)
        except VizcoreError as error:
            outcome = error
    seconds = time.perf_counter() - started

    assert sorted(os.listdir(tmp_path)) == [path.name]  # decoding wrote nothing
    if isinstance(expectation, Refused):
        assert isinstance(outcome, VizcoreError), f"{name} was accepted, {expectation}"
        assert_one_sentence(outcome)
        assert expectation.says in str(outcome)
        assert seconds < REFUSAL_SECONDS
        memory_budget = BASE_MEMORY_MB
    else:
        assert not isinstance(outcome, VizcoreError), f"{name} was refused: {outcome}"
        assert_rgb_array(outcome, (expectation.height, expectation.width))
        assert expectation.check(outcome), expectation.promise
        megapixels = expectation.height * expectation.width / 1e6
        assert seconds < REFUSAL_SECONDS + ACCEPT_SECONDS_PER_MEGAPIXEL * megapixels
        memory_budget = BASE_MEMORY_MB + BYTES_PER_OUTPUT_PIXEL * megapixels
    if memory["mb"] is not None:
        assert memory["mb"] <= memory_budget, f"{name} peaked at {memory['mb']} MB, budget {memory_budget:.0f} MB"


def test_the_png_bomb_is_real(tmp_path):
    """The bomb case must really be one: under 1 MB on disk, 900 MB of valid pixel data once inflated."""
    data = CASES["png_decompression_bomb"][0](tmp_path).read_bytes()
    assert len(data) < 2**20
    idat = data[data.index(b"IDAT") + 4 : data.rindex(b"IEND") - 8]  # the payload, without CRC and IEND length
    inflater, inflated, pending = zlib.decompressobj(), 0, idat
    while pending:
        inflated += len(inflater.decompress(pending, 2**24))  # 16 MB at a time, never all of it
        pending = inflater.unconsumed_tail
    inflated += len(inflater.flush())
    assert inflater.eof and inflated == 30_000 * (30_000 + 1)  # each row: filter byte + 30000 grey pixels


def test_eps_never_runs_ghostscript(tmp_path, monkeypatch):
    """A fake ``gs`` on PATH leaves a marker when run: Pillow alone runs it for EPS, vizcore must not."""
    marker = tmp_path / "ghostscript_ran"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "gs").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (fake_bin / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # look Ghostscript up again, on our PATH
    path = CASES["eps_postscript"][0](tmp_path)

    with pytest.raises(VizcoreError):
        vizcore.decode_image(path.read_bytes())
    assert not marker.exists()

    with contextlib.suppress(Exception):  # the trap works: Pillow without an allow-list runs gs
        Image.open(path).load()
    assert marker.exists()


# --- CLI ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every case written once, each in its own folder, for the CLI and app tests."""
    root = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, (write, _) in CASES.items():
        folder = root / name
        folder.mkdir()
        paths[name] = write(folder)
    return paths


def library_sentence(path: Path) -> str:
    with pytest.raises(VizcoreError) as caught:
        vizcore.decode_image(path.read_bytes())
    return str(caught.value)


@pytest.mark.parametrize("name", REFUSED + CLI_ACCEPTED_SUBSET)
def test_cli_main_exit_status_and_output(name, corpus, capfd, monkeypatch):
    monkeypatch.delenv("VIZCORE_DEBUG", raising=False)
    path = corpus[name]
    status = cli.main(["predict", str(path), "--json"])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert sorted(os.listdir(path.parent)) == [path.name]
    if isinstance(CASES[name][1], Refused):
        assert status == cli.EXIT_USER_ERROR and out == ""
        assert err == library_sentence(path) + "\n"
    else:
        assert status == 0, err
        predictions = json.loads(out)["predictions"]
        assert len(predictions) == 5 and 0 < predictions[0]["probability"] <= 1


# Every refused file through each newer method; one accepted file each, at the smallest size and one step.
QUICKEST = {
    "attack": ["--steps", "1"],
    "invert": ["--layers", "stem_relu", "--size", "32", "--steps", "1"],
    "texture": ["--size", "32", "--steps", "1"],
}
ACCEPTED_BY = {"attack": CLI_ACCEPTED_SUBSET[0], "invert": CLI_ACCEPTED_SUBSET[0], "texture": CLI_ACCEPTED_SUBSET[1]}


def _one_step_done(method: str, summary: dict) -> bool:
    if method == "attack":
        return summary["steps"] == 1 and summary["linf"] <= summary["epsilon"]
    return summary["steps_done"] == 1


@pytest.mark.parametrize("method, name", [(method, name) for method in QUICKEST for name in REFUSED]
                         + list(ACCEPTED_BY.items()))
def test_cli_attack_invert_and_texture_exit_status_and_output(method, name, corpus, capfd, monkeypatch, embedded_model):
    """``vizcore attack``, ``invert`` and ``texture`` read their image as ``predict`` does: the same sentence for a refused file."""
    monkeypatch.delenv("VIZCORE_DEBUG", raising=False)
    monkeypatch.setattr(vizcore, "load_model", lambda *args, **options: embedded_model)  # the image path is under test
    path = corpus[name]
    status = cli.main([method, str(path), *QUICKEST[method], "--json"])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert sorted(os.listdir(path.parent)) == [path.name]
    if isinstance(CASES[name][1], Refused):
        assert status == cli.EXIT_USER_ERROR and out == ""
        assert err == library_sentence(path) + "\n"
    else:
        assert status == 0, err
        assert _one_step_done(method, json.loads(out))


def test_cli_subprocesses_for_a_representative_two(corpus):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("VIZCORE_DEBUG", None)
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "vizcore", "predict", str(corpus[name]), "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in SUBPROCESS_SUBSET
    }
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        assert "Traceback" not in out + err, name
        if isinstance(CASES[name][1], Refused):
            assert (process.returncode, out) == (cli.EXIT_USER_ERROR, ""), name
            assert err == library_sentence(corpus[name]) + "\n", name  # the sentence and nothing else
        else:
            assert process.returncode == 0, err
            assert len(json.loads(out)["predictions"]) == 5


# --- app -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_with_a_photo():
    """One app session with a good photo uploaded: every refused upload must leave it in place."""
    at = AppTest.from_file(APP, default_timeout=180).run()
    photo = io.BytesIO()
    Image.fromarray(vizcore.load_sample("coffee")).save(photo, "PNG")
    _upload(at, "my_coffee.png", photo.getvalue(), "image/png")
    assert_healthy(at)
    assert chart_labels(at)[0].startswith(COFFEE_LABELS)
    return at


def upload_name(path: Path) -> str:
    """The file's own name, or ``<name>.png`` where the uploader's extension filter would stop it."""
    return path.name if path.suffix.lstrip(".").lower() in UPLOAD_TYPES else f"{path.name}.png"


@pytest.mark.parametrize("name", REFUSED)
def test_app_refuses_the_upload_and_keeps_working(name, corpus, app_with_a_photo):
    at, path = app_with_a_photo, corpus[name]
    shown_name = upload_name(path)
    mime = mimetypes.guess_type(shown_name)[0] or "application/octet-stream"
    at.sidebar.file_uploader[0].set_value((shown_name, path.read_bytes(), mime)).run()

    assert_healthy(at)
    assert [error.value for error in at.sidebar.error] == [f"{shown_name}: {library_sentence(path)}"]
    assert chart_labels(at)[0].startswith(COFFEE_LABELS)  # the photo's predictions are still shown
    assert "my_coffee.png" in at.sidebar.get("image")[0].proto.imgs[0].caption
