"""`vizcore embed`: an index's map as JSON, an N x 2 array and a labelled scatter, or one sentence."""

import json

import numpy as np
from PIL import Image

from test_cli import assert_one_sentence_error, run_cli
from vizcore.datasets.projection import project, read_index_points


def test_embed_writes_the_map_its_array_and_a_scatter(built_index, tmp_path):
    out, summary = built_index
    picture, array = tmp_path / "map.png", tmp_path / "xy.npy"
    result = run_cli("embed", "--index", out, "--method", "pca", "--out", picture, "--array", array, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {"method": "pca", "seed": 0, "points": summary.images, "fitted": summary.images,
                      "out": str(picture), "array": str(array)}
    xy = np.load(array)
    assert xy.shape == (summary.images, 2) and xy.dtype == np.float32
    assert np.allclose(xy, project(read_index_points(out).embeddings, "pca"))
    pixels = np.asarray(Image.open(picture).convert("RGB"))
    colours = {tuple(colour) for colour in pixels.reshape(-1, 3)[::7].tolist()}
    assert pixels.shape[0] > 500 and len(colours) > 10  # dots in several label colours, not a blank sheet

    again = run_cli("embed", "--index", out, "--method", "tsne", "--seed", "4", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["method"] == "tsne"


def test_embed_refuses_with_one_sentence(built_index, tmp_path):
    out, _ = built_index
    assert "no vizcore index" in assert_one_sentence_error(run_cli("embed", "--index", tmp_path, "--method", "pca"))
    assert "invalid choice" in assert_one_sentence_error(run_cli("embed", "--index", out, "--method", "mds"))
