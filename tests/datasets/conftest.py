"""The small dataset of dataset_photos.py, and one index of it shared by the tests."""

from pathlib import Path

import pytest

from dataset_photos import SETTINGS, write_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("dataset") / "photos")


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, dataset, embedded_model):
    from vizcore.datasets.index import IndexSettings, build_index

    out = tmp_path_factory.mktemp("index") / "index"
    summary = build_index(dataset, out, embedded_model, IndexSettings(**SETTINGS))
    return out, summary
