"""Every hostile model file of the corpus (tests/hostile_models.py) through the CLI and the app.

tests/models/test_user_model.py checks each refusal in the library; here the same files go where
a user puts them: ``--model-file`` on the command line (``vizcore.cli.main`` in this process, so
TensorFlow loads once: the exit status and stderr are what a shell would see) and the sidebar's
model uploader (one AppTest session: after every refusal the app keeps working on its model).
No case may ever write the marker file its payload aims for.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import hostile_models
from hostile_models import CASES, MARKER
from ui.sidebar import MODEL_FILE
from test_app import APP, CAT_LABELS, assert_healthy, chart_labels
from test_images import assert_one_sentence
from vizcore import cli
from vizcore.errors import VizcoreError
from vizcore.models import load_model_file
from vizcore.models.user_model import shown


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every case written once, each in its own folder."""
    root = tmp_path_factory.mktemp("hostile-models")
    paths = {}
    for name, write in CASES.items():
        folder = root / name
        folder.mkdir()
        paths[name] = write(folder)
    return paths


@pytest.fixture(autouse=True)
def no_marker_before_or_after():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "a hostile model ran its payload"


def library_sentence(path: Path) -> str:
    with pytest.raises(VizcoreError) as caught:
        load_model_file(path)
    assert_one_sentence(caught.value)
    return str(caught.value)


def test_the_corpus_has_the_cases_the_issue_names():
    assert len(CASES) >= 8
    for required in ("lambda_keras", "nested_lambda_keras", "os_system_class", "lambda_h5", "tfsm_layer",
                     "zip_bomb_declared", "h5_external_link", "h5_huge_declared_shape"):
        assert required in CASES


@pytest.mark.parametrize("name", list(CASES))
def test_cli_exits_2_with_the_sentence_alone(name, corpus, capfd, monkeypatch):
    monkeypatch.delenv("VIZCORE_DEBUG", raising=False)
    path = corpus[name]
    files_before = sorted(os.listdir(path.parent))
    status = cli.main(["predict", "sample:chelsea", "--model-file", str(path), "--json"])
    out, err = capfd.readouterr()
    assert (status, out) == (cli.EXIT_USER_ERROR, "")
    assert err == library_sentence(path) + "\n"
    assert sorted(os.listdir(path.parent)) == files_before  # nothing was unpacked or written beside it


@pytest.fixture(scope="module")
def app_on_the_embedded_model():
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert_healthy(at)
    assert chart_labels(at)[0].startswith(CAT_LABELS)
    return at


@pytest.mark.parametrize("name", list(CASES))
def test_app_refuses_the_model_and_keeps_working(name, corpus, app_on_the_embedded_model):
    at, path = app_on_the_embedded_model, corpus[name]
    at.sidebar.file_uploader(key=MODEL_FILE).set_value((path.name, path.read_bytes(), "application/octet-stream")).run()
    assert_healthy(at)
    assert [error.value for error in at.sidebar.error] == [f"{shown(path.name)}: {library_sentence(path)}"]
    assert at.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"
    assert chart_labels(at)[0].startswith(CAT_LABELS)


def test_a_good_model_after_the_corpus_still_loads(app_on_the_embedded_model, tmp_path):
    """The refusals left no state behind that blocks the next, honest upload."""
    at = app_on_the_embedded_model
    path = hostile_models.save_keras(hostile_models.good_tiny_model(), tmp_path / "tiny.keras")
    at.sidebar.file_uploader(key=MODEL_FILE).set_value((path.name, path.read_bytes(), "application/octet-stream")).run()
    assert_healthy(at)
    assert not at.sidebar.error
    assert at.sidebar.selectbox(key="model_choice").value.startswith("upload:")
