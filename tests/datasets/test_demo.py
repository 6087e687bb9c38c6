"""The demo set: made on first use from installed photos, labelled by photo, the same everywhere, never half-written."""

import numpy as np
import pytest

from vizcore.datasets import demo
from vizcore.datasets.sources import open_source
from vizcore.errors import VizcoreError
from vizcore.images import decode_image


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_demo_set_is_an_image_folder_labelled_by_photo(cache):
    made = demo.ensure_demo_set(2)
    assert made.folder.parent == cache / demo.DEMO_FOLDER
    assert {"chelsea", "coffee", "rocket", "astronaut"} <= set(made.photos)
    with open_source(made.folder) as source:
        assert not source.skipped
        assert len(source.files) == made.images == 2 * len(made.photos)
        assert sorted({file.label for file in source.files}) == sorted(made.photos)
        pixels = [source.decode(file) for file in source.files if file.label == "chelsea"]
    assert all(isinstance(image, np.ndarray) and max(image.shape[:2]) == demo.IMAGE_SIDE for image in pixels)
    assert not np.array_equal(pixels[0][:, ::-1], pixels[1])  # two different crops, not one and its mirror
    assert "demo set" in made.description() and "not by ImageNet class" in made.description()


def test_demo_set_is_the_same_on_every_machine(tmp_path, monkeypatch):
    sets = []
    for name in ("first", "second"):
        monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path / name))
        made = demo.ensure_demo_set(2)
        sets.append({path.relative_to(made.folder): path.read_bytes() for path in made.folder.rglob("*.jpg")})
    assert sets[0] == sets[1] and len(sets[0]) > 0


def test_second_use_reopens_the_set_without_writing(cache, monkeypatch):
    first = demo.ensure_demo_set(1)
    monkeypatch.setattr(demo, "_write_set", lambda *args: pytest.fail("the finished set was written again"))
    assert demo.ensure_demo_set(1) == first


def test_crops_are_mirrored_every_other_time_and_fit_the_side():
    photo = decode_image(demo.source_photos()["chelsea"].read_bytes())
    variants = demo.demo_variants(photo, 4, seed=7)
    assert [max(image.shape[:2]) for image in variants] == [demo.IMAGE_SIDE] * 4
    again = demo.demo_variants(photo, 4, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(variants, again))
    assert not np.array_equal(variants[0], demo.demo_variants(photo, 1, seed=8)[0])


def test_a_set_that_fails_half_way_is_never_used(cache, monkeypatch):
    real_write = demo._write_set

    def write_then_fail(folder, photos, count):
        real_write(folder, dict(list(photos.items())[:2]), count)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo, "_write_set", write_then_fail)
    with pytest.raises(VizcoreError, match="No space left on device"):
        demo.ensure_demo_set(1)
    assert list((cache / demo.DEMO_FOLDER).iterdir()) == []  # no finished-looking folder, no leftover
    monkeypatch.setattr(demo, "_write_set", real_write)
    assert len(list(demo.ensure_demo_set(1).folder.rglob("*.jpg"))) == len(demo.source_photos())


@pytest.mark.parametrize("count", [0, demo.MAX_IMAGES_PER_PHOTO + 1])
def test_out_of_range_count_is_one_sentence(cache, count):
    with pytest.raises(VizcoreError, match="images per photo"):
        demo.ensure_demo_set(count)
