"""Cosine nearest neighbours: the fast search agrees with a plain float32 one, and an image finds itself first."""

import numpy as np
import pytest

from dataset_photos import CLASSES
from vizcore.datasets.int8_scan import scan
from vizcore.datasets.neighbours import EmbeddingSearch, NeighbourIndex, normalised, quantised
from vizcore.errors import VizcoreError
from vizcore.images import decode_image


def test_search_equals_a_plain_float32_search():
    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((5000, 64)).astype(np.float16)
    search = EmbeddingSearch(embeddings)
    unit = normalised(embeddings, np.float16).astype(np.float32)  # the search keeps unit rows in float16
    for query in rng.standard_normal((5, 64)).astype(np.float32):
        rows, distances = search.nearest(query, 10)
        cosines = unit @ (query / np.linalg.norm(query))
        expected = np.argsort(-cosines)[:10]
        assert rows.tolist() == expected.tolist()
        assert np.allclose(distances, 1 - cosines[expected], atol=2e-3)
    with pytest.raises(VizcoreError, match="between 1 and 5000"):
        search.nearest(embeddings[0], 0)


def test_the_scan_stays_within_each_rows_bound():
    rng = np.random.default_rng(2)
    rows = np.concatenate([np.abs(rng.standard_normal((300, 1280))),  # like pooled ReLU features
                           rng.standard_normal((300, 1280)), np.zeros((1, 1280))])
    unit = normalised(rows, np.float32)
    codes, scales, offsets, bounds = quantised(unit)
    for query in normalised(np.concatenate([rows[:3] + 0.1, rng.standard_normal((3, 1280))]), np.float32):
        approximate = scan(codes, scales, offsets, query, np.float32(query.sum(dtype=np.float64)))
        error = np.abs(approximate - unit.astype(np.float64) @ query)
        assert (error <= bounds).all()
        assert error.max() > bounds.min() / 50  # the bound is not vacuous: a real quantisation error sits inside it


def test_near_ties_closer_than_float32_rounding_are_ranked_exactly():
    """Rows a few 1e-8 apart in cosine: the search ranks them as float64 does, a float32 sort often does not."""
    rng = np.random.default_rng(3)
    base = np.abs(rng.standard_normal(1280))
    rows = base + np.abs(rng.standard_normal((2000, 1280))) * 1e-3  # one tight cluster: all near-ties
    search = EmbeddingSearch(rows.astype(np.float16))
    unit = search.exact.astype(np.float64)
    float32_wrong = 0
    for query in (base + rng.standard_normal((3, 1280)) * 0.05):
        rows_found, _ = search.nearest(query, 10)
        exact = unit @ (query / np.linalg.norm(query))
        expected = np.lexsort((np.arange(len(exact)), -exact))[:10].tolist()
        assert rows_found.tolist() == expected
        float32 = search.exact.astype(np.float32) @ (query / np.linalg.norm(query)).astype(np.float32)
        float32_wrong += np.argsort(-float32, kind="stable")[:10].tolist() != expected
    assert float32_wrong > 0  # the data do hold ties that float32 cannot settle


def test_an_indexed_image_is_its_own_nearest_neighbour(built_index, dataset, embedded_model):
    out, _ = built_index
    index = NeighbourIndex(out)
    for name in CLASSES:
        pixels = decode_image((dataset / name / "flip.png").read_bytes())
        neighbours = index.nearest(index.embed(embedded_model, pixels), 3)
        assert neighbours[0].path == f"{name}/flip.png" and neighbours[0].distance < 1e-2
        assert neighbours[1].label == name  # the mirrored photo is closer than any other class
        assert [item.distance for item in neighbours] == sorted(item.distance for item in neighbours)
