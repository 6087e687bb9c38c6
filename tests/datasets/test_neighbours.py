"""Cosine nearest neighbours: the fast search agrees with a plain float32 one, and an image finds itself first."""

import numpy as np
import pytest

from dataset_photos import CLASSES
from vizcore.datasets.neighbours import EmbeddingSearch, NeighbourIndex, normalised
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


def test_an_indexed_image_is_its_own_nearest_neighbour(built_index, dataset, embedded_model):
    out, _ = built_index
    index = NeighbourIndex(out)
    for name in CLASSES:
        pixels = decode_image((dataset / name / "flip.png").read_bytes())
        neighbours = index.nearest(index.embed(embedded_model, pixels), 3)
        assert neighbours[0].path == f"{name}/flip.png" and neighbours[0].distance < 1e-2
        assert neighbours[1].label == name  # the mirrored photo is closer than any other class
        assert [item.distance for item in neighbours] == sorted(item.distance for item in neighbours)
