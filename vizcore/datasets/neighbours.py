"""Nearest neighbours in an index's embedding space (cosine), for an indexed image or any new one.

The embeddings are normalised once when loaded and kept twice: as float16 unit rows (``exact``,
for the final ranking) and as int8 codes (``codes``, for the scan): each row is ``offset +
scale * code``, the 255 levels spanning that row's own minimum to maximum (pooled ReLU features
are all >= 0, so a range about zero would waste half of them). One pass over the int8 rows with
the float32 query (int8_scan.py, a numba kernel on all cores, half the memory traffic of a
bfloat16 scan) gives every row's approximate score, off by at most that row's ``bound``: the
norm of its quantisation residual (Cauchy-Schwarz against the unit query) plus the float32
rounding of the sum. Every row whose score plus bound can still reach the K-th best score minus
bound is a candidate; the candidates are rescored from the float16 rows in float64 (exact to
1e-13; int8_scan.rescore), so the K returned are exactly the K highest cosines of the stored
float16 rows, ties to the earlier row. A plain float32 sort is not exact at 1M clustered rows:
there the 10th and 11th best cosines can differ by less than float32's rounding of a 1280-term
sum (why the bfloat16 search this replaced, which reranked in float32, disagreed with a float32
sort on 1 query in 20).
Distances are cosine distances, 1 - cos, from 0 (same direction) to 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizcore.errors import VizcoreError

DEFAULT_K = 10
INT8_LEVELS = 127
_CHUNK = 65536  # rows converted at a time, so no float32 copy of the whole index exists
# Relative rounding of a float32 sum of D products (Higham's gamma_D, per unit of sum |a b|), and a margin for
# the few roundings after it.
_FLOAT32_UNIT = 2.0**-24
_FLOAT32_SLACK = 1e-6


def normalised(vectors: np.ndarray, dtype=np.float16) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), in ``dtype``; computed in float32 chunks."""
    out = np.empty(vectors.shape, dtype=dtype)
    for start in range(0, len(vectors), _CHUNK):
        chunk = np.asarray(vectors[start : start + _CHUNK], dtype=np.float32)
        norms = np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start : start + _CHUNK] = chunk / np.where(norms > 0, norms, 1)
    return out


def quantised(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """float32 rows as ``offset + scale * code`` (codes int8 in -127..127): (codes, scales, offsets, bounds).

    ``bounds``: per row, the most its scan score can be off for a unit query (residual norm plus
    the float32 rounding of a D-term sum, Higham's gamma_D times the sum of |code x query|).
    """
    from vizcore.datasets.int8_scan import LOCK, quantise

    with LOCK:
        return quantise(np.ascontiguousarray(rows, dtype=np.float32), INT8_LEVELS, _FLOAT32_UNIT, _FLOAT32_SLACK)


class EmbeddingSearch:
    """Exact cosine search over N x D embeddings (any float dtype); ``nearest(vector, k)`` -> (rows, distances)."""

    def __init__(self, embeddings: np.ndarray):
        if embeddings.ndim != 2 or len(embeddings) == 0:
            raise VizcoreError("The index holds no embeddings to search.")
        self.exact = normalised(embeddings, np.float16)
        count, width = self.exact.shape
        self.codes = np.empty((count, width), np.int8)
        self.scales, self.offsets, self.bounds = (np.empty(count, np.float32) for _ in range(3))
        for start in range(0, count, _CHUNK):
            part = slice(start, start + _CHUNK)
            self.codes[part], self.scales[part], self.offsets[part], self.bounds[part] = quantised(
                self.exact[part].astype(np.float32))

    def __len__(self) -> int:
        return len(self.exact)

    def nearest(self, vector: np.ndarray, k: int = DEFAULT_K) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``k`` closest embeddings to ``vector`` (D floats), closest first, and their cosine distances."""
        from vizcore.datasets.int8_scan import LOCK, rescore, scan

        if not 1 <= k <= len(self):
            raise VizcoreError(f"K must be between 1 and {len(self)} (the images in the index), not {k}.")
        query = normalised(np.asarray(vector, dtype=np.float32)[None], np.float32)[0]
        with LOCK:
            approximate = scan(self.codes, self.scales, self.offsets, query, np.float32(query.sum(dtype=np.float64)))
        lower = approximate - self.bounds
        kth = np.partition(lower, len(lower) - k)[len(lower) - k]
        rows = np.flatnonzero(approximate + self.bounds >= kth)
        with LOCK:
            scores = rescore(self.exact.view(np.uint16), rows, query.astype(np.float64))
        order = np.lexsort((rows, -scores))[:k]
        return rows[order], np.clip(1.0 - scores[order], 0.0, 2.0).astype(np.float32)


@dataclass(frozen=True)
class Neighbour:
    path: str
    distance: float  # cosine distance, 0 (same direction) to 2
    label: str | None
    predicted: str

    def as_dict(self) -> dict:
        return {"path": self.path, "distance": self.distance, "label": self.label, "predicted": self.predicted}


class NeighbourIndex:
    """An index's embeddings with the rows' paths, labels and predictions, loaded once."""

    def __init__(self, index_dir):
        from vizcore.datasets.index import read_images, read_manifest

        self.manifest = read_manifest(index_dir)
        table = read_images(index_dir, columns=["path", "label", "predicted", "embedding"])
        self.paths = table["path"].to_pylist()
        self.labels = table["label"].to_pylist()
        self.predicted = table["predicted"].to_pylist()
        column = table["embedding"].combine_chunks()
        flat = column.flatten().to_numpy(zero_copy_only=False)
        self.search = EmbeddingSearch(flat.reshape(len(self.paths), column.type.list_size))

    def nearest(self, vector: np.ndarray, k: int = DEFAULT_K) -> list[Neighbour]:
        rows, distances = self.search.nearest(vector, k)
        return [Neighbour(self.paths[row], float(distance), self.labels[row], self.predicted[row])
                for row, distance in zip(rows.tolist(), distances.tolist())]

    def load_model(self):
        """The model the index was made with, loaded again (a model file passes the same checks as an upload)."""
        from vizcore.datasets.recipe import ModelChoice

        choice = self.manifest["model"].get("choice")
        if choice is None:
            raise VizcoreError("The index was made with a model vizcore cannot load again by itself; pass that model.")
        return ModelChoice(**choice).load()

    def embed(self, loaded, pixels: np.ndarray) -> np.ndarray:
        """The embedding of RGB uint8 ``pixels`` (any size) by ``loaded``, the model the index was made with."""
        from vizcore.datasets.index import model_digest
        from vizcore.datasets.recipe import IndexRecipe
        from vizcore.images import fit_to_model

        if model_digest(loaded) != self.manifest["model"]["digest"]:
            raise VizcoreError("The index was made with another model; choose the same model to search it.")
        recipe = IndexRecipe(loaded, (), batch_size=1)
        return recipe({"image": fit_to_model(pixels, recipe.input_size)[None]})["embedding"][0]
