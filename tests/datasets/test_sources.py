"""Listing and reading a folder or zip of images: labels, and hostile entries skipped with one sentence each."""

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from dataset_photos import CLASSES, NOT_AN_IMAGE
from vizcore.datasets import sources
from vizcore.datasets.sources import Skipped, open_source
from vizcore.errors import VizcoreError


def _png(colour=(200, 30, 30), side=16) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), colour, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def one_sentence(text: str) -> bool:
    return text.endswith(".") and text.count(". ") == 0 and "\n" not in text


def test_folder_labels_come_from_class_folders(dataset):
    with open_source(dataset) as source:
        labels = {file.path: file.label for file in source.files}
        assert source.kind == "folder"
        assert [file.path for file in source.files] == sorted(labels)
        assert labels["astronaut.png"] is None and labels["notes.jpg"] is None
        assert {labels[f"{name}/flip.png"] for name in CLASSES} == set(CLASSES)
        decoded = {file.path: value for file, value in source.decoded(source.files)}
    assert isinstance(decoded["notes.jpg"], Skipped) and NOT_AN_IMAGE in decoded["notes.jpg"].reason
    assert decoded["chelsea/flip.png"].shape == (300, 451, 3)
    assert sum(isinstance(value, np.ndarray) for value in decoded.values()) == 10


def test_symbolic_links_are_skipped_not_followed(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(_png())
    root = tmp_path / "data"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "real.png").write_bytes(_png())
    os.symlink(secret, root / "cats" / "link.png")
    os.symlink(tmp_path, root / "loop")
    with open_source(root) as source:
        assert [file.path for file in source.files] == ["cats/real.png"]
        reasons = {item.path: item.reason for item in source.skipped}
    assert set(reasons) == {"cats/link.png", "loop"}
    assert all("symbolic link" in reason and one_sentence(reason) for reason in reasons.values())


def test_a_zip_is_checked_from_its_directory_before_inflating(tmp_path):
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("photos/cats/good.png", _png())
        zipped.writestr("photos/dogs/good.png", _png((0, 0, 200)))
        zipped.writestr("photos/top.png", _png((0, 200, 0)))
        zipped.writestr("photos/cats/notes.jpg", "not a picture at all " * 20)
        zipped.writestr("../escape.png", _png())
        zipped.writestr("/etc/absolute.png", _png())
        zipped.writestr("photos/cats/bomb.png", bytes(200 * 2**20))  # 200 MB of zeros deflates to about 200 KB
        link = zipfile.ZipInfo("photos/cats/link.png")
        link.create_system, link.external_attr = 3, (0o120777 << 16)
        zipped.writestr(link, "/etc/passwd")
    inflated = []
    real_open = zipfile.ZipFile.open

    def tracking_open(self, name, *args, **kwargs):
        inflated.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipfile.ZipFile, "open", tracking_open)
        with open_source(archive) as source:
            files = {file.path: file.label for file in source.files}
            skipped = {item.path: item.reason for item in source.skipped}
            decoded = {file.path: value for file, value in source.decoded(source.files)}
    assert source.kind == "zip"
    assert files == {"cats/good.png": "cats", "dogs/good.png": "dogs", "top.png": None, "cats/notes.jpg": "cats"}
    assert "leaves the dataset folder" in skipped["../escape.png"] and "leaves" in skipped["/etc/absolute.png"]
    assert "zip bomb" in skipped["photos/cats/bomb.png"] or "inflate" in skipped["photos/cats/bomb.png"]
    assert "symbolic link" in skipped["photos/cats/link.png"]
    assert all(one_sentence(reason) for reason in skipped.values())
    assert not any(name.endswith(("bomb.png", "escape.png", "absolute.png", "link.png")) for name in inflated)
    assert NOT_AN_IMAGE in decoded["cats/notes.jpg"].reason
    assert decoded["dogs/good.png"][0, 0].tolist() == [0, 0, 200]


def test_a_zip_with_too_many_entries_is_refused_whole(tmp_path, monkeypatch):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for number in range(12):
            zipped.writestr(f"a/{number}.png", _png())
    monkeypatch.setattr(sources, "MAX_FILES", 10)
    with pytest.raises(VizcoreError, match="lists 12 files") as caught:
        open_source(archive)
    assert one_sentence(str(caught.value))


def test_not_a_dataset_is_one_sentence(tmp_path):
    (tmp_path / "file.txt").write_text("hello")
    for location in (tmp_path / "file.txt", tmp_path / "missing"):
        with pytest.raises(VizcoreError) as caught:
            open_source(location)
        assert one_sentence(str(caught.value))

