"""Fast style transfer (vizcore/fast_style.py): one forward pass, its checks, its CLI and the hostile images through it.

The network's agreement with the reference runtime is tested in tests/models/test_style_network.py.
"""

import json

import numpy as np
import pytest
from PIL import Image

from hostile_images import CASES, Refused
from test_cli import assert_one_sentence_error, run_cli
from test_images import assert_one_sentence
import vizcore
from vizcore import cli, fast_style
from vizcore.errors import VizcoreError
from vizcore.models.style_network import NUM_STYLES


def test_one_pass_paints_the_photo_at_the_default_size(chelsea):
    result = fast_style.fast_style(chelsea, [7])
    height, width = chelsea.shape[:2]
    assert result.image.dtype == np.uint8
    assert max(result.image.shape[:2]) == fast_style.DEFAULT_SIZE
    assert result.image.shape == (round(height * fast_style.DEFAULT_SIZE / width), fast_style.DEFAULT_SIZE, 3)
    assert 0 < result.seconds < 30
    photo = np.asarray(Image.fromarray(chelsea).resize(result.image.shape[1::-1]), np.float32)
    assert np.abs(result.image.astype(np.float32) - photo).mean() > 20  # repainted, not the photo
    assert np.corrcoef(result.image.mean(axis=2).ravel(), photo.mean(axis=2).ravel())[0, 1] > 0.2  # the cat still there
    assert result.summary()["styles"] == [7] and result.summary()["parameters"] == {"size": 512}


def test_a_blend_lies_between_its_styles(chelsea):
    settings = fast_style.FastStyleSettings(size=128)
    first, second, blend = (fast_style.fast_style(chelsea, styles, weights, settings).image.astype(np.float32)
                            for styles, weights in (([2], None), ([21], None), ([2, 21], [1.0, 1.0])))
    assert np.abs(first - second).mean() > 20
    assert np.abs(blend - first).mean() < np.abs(second - first).mean()
    assert np.abs(blend - second).mean() < np.abs(second - first).mean()


def test_style_blend_normalises_and_refuses_bad_choices():
    np.testing.assert_allclose(fast_style.style_blend([3, 12], [1, 3])[[3, 12]], [0.25, 0.75])
    for styles, weights in (([], None), ([26], None), ([-1], None), ([True], None), ([1, 2], [1.0]), ([1], [0.0]),
                            ([1], [float("nan")]), ([1.5], None)):
        with pytest.raises(VizcoreError) as caught:
            fast_style.style_blend(styles, weights)
        assert_one_sentence(caught.value)


@pytest.mark.parametrize("size", [63, 1025])
def test_sizes_outside_the_range_are_refused(chelsea, size):
    with pytest.raises(VizcoreError, match="between 64 and 1024"):
        fast_style.fast_style(chelsea, [0], settings=fast_style.FastStyleSettings(size=size))


@pytest.mark.parametrize("shape", [(1, 1), (1, 700), (300, 2), (5, 9)])
def test_slivers_and_specks_come_back_at_their_own_shape(shape):
    pixels = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    result = fast_style.fast_style(pixels, [5], settings=fast_style.FastStyleSettings(size=64))
    scale = 64 / max(shape)
    assert result.image.shape == (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)), 3)


def test_the_style_sheet_shows_26_different_styles(coffee):
    sheet = fast_style.style_sheet(coffee, tile=64)
    assert sheet.shape == (NUM_STYLES, 43, 64, 3) and sheet.dtype == np.uint8
    means = sheet.reshape(NUM_STYLES, -1, 3).mean(axis=1)
    assert len({tuple(np.round(mean / 8)) for mean in means}) > NUM_STYLES // 2  # the tiles' colours differ


def test_any_style_image_paints_and_blends(coffee):
    hubble, tissue = (vizcore.load_sample(name) for name in ("hubble_deep_field", "immunohistochemistry"))
    settings = fast_style.FastStyleSettings(size=128)
    dark, brown, blend = (fast_style.fast_style_from_images(coffee, styles, weights, settings).image.astype(np.float32)
                          for styles, weights in (([hubble], None), ([tissue], None), ([hubble, tissue], [1, 1])))
    assert dark.shape == (85, 128, 3)
    assert dark.mean() < brown.mean() - 20  # the deep field paints darker than the stained tissue
    assert np.abs(blend - dark).mean() < np.abs(brown - dark).mean()
    assert np.abs(blend - brown).mean() < np.abs(brown - dark).mean()
    with pytest.raises(VizcoreError, match="one weight"):
        fast_style.fast_style_from_images(coffee, [hubble], [1, 2], settings)
    with pytest.raises(VizcoreError, match="between 1 and 4 style images"):
        fast_style.fast_style_from_images(coffee, [], None, settings)


# --- CLI -------------------------------------------------------------------------------------


def test_cli_fast_blends_two_built_in_styles(tmp_path):
    out = tmp_path / "fast.png"
    result = run_cli("style", "sample:coffee", "3", "19", "--style-weights", "1,3", "--fast", "--size", "160",
                     "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["method"] == "fast" and summary["styles"] == [3, 19] and summary["style_weights"] == [1.0, 3.0]
    assert (summary["width"], summary["height"]) == (160, 107) == Image.open(out).size
    assert summary["seconds"] > 0


def test_cli_fast_paints_in_the_style_of_an_image(tmp_path):
    result = run_cli("style", "sample:coffee", "sample:hubble_deep_field", "--fast", "--size", "128", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["network"].startswith("arbitrary") and summary["styles"] == ["sample:hubble_deep_field"]
    assert (summary["width"], summary["height"]) == (128, 85)


@pytest.mark.parametrize("args, message", [
    (["sample:coffee", "3", "sample:chelsea", "--fast"], "either built-in style numbers or style images, not both"),
    (["sample:coffee", "26", "--fast"], "a number from 0 to 25, not 26"),
    (["sample:coffee", "4", "--fast", "--size", "2000"], "between 64 and 1024"),
    (["sample:coffee", "4", "5", "--fast", "--style-weights", "1"], "one weight"),
    (["sample:coffee", "sample:chelsea", "--fast", "--style-weights", "1,1"], "one weight"),
    (["no/such/photo.png", "4", "--fast"], "There is no file"),
    (["sample:coffee", "no/such/style.png", "--fast"], "There is no file"),
], ids=["numbers-and-images", "style-26", "size", "weights", "image-weights", "missing-content", "missing-style"])
def test_cli_fast_bad_input_is_one_sentence(args, message):
    assert message in assert_one_sentence_error(run_cli("style", *args))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-fast")
    paths = {}
    for name, (write, _) in CASES.items():
        (root / name).mkdir()
        paths[name] = write(root / name)
    return paths


SLOW_TO_DECODE = {"rgba_at_the_pixel_cap"}  # 5 s of decoding alone, which tests/test_hostile_images.py covers


@pytest.mark.parametrize("name", [name for name in CASES if name not in SLOW_TO_DECODE])
def test_hostile_images_through_fast_style(name, corpus, capfd, monkeypatch):
    """Refused files: the library's sentence and exit 2; accepted ones (slivers, 1000 frames, 16-bit...): styled."""
    monkeypatch.delenv("VIZCORE_DEBUG", raising=False)
    path = corpus[name]
    status = cli.main(["style", str(path), "11", "--fast", "--size", "64", "--json"])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    if isinstance(CASES[name][1], Refused):
        assert status == cli.EXIT_USER_ERROR and out == ""
        assert CASES[name][1].says in err and len(err.strip().splitlines()) == 1
    else:
        assert status == 0, err
        summary = json.loads(out)
        assert max(summary["height"], summary["width"]) == 64 and min(summary["height"], summary["width"]) >= 1
