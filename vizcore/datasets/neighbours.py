"""Nearest neighbours in an index's embedding space (cosine), for an indexed image or any new one.

The embeddings are normalised once when loaded and kept as bfloat16 for the scoring pass (a
matrix-vector product that this CPU's AMX/AVX-512 units run several times faster than float32,
from half the memory) and as float16 for the final ranking. bfloat16 moves a score of unit
vectors by at most ``BFLOAT16_SCORE_ERROR`` (inputs rounded to 8 bits of mantissa, the sum
rounded once more), so every row whose fast score is within twice that of the K-th best is a
candidate; the candidates are rescored in float32 from the float16 rows and ordered with
``np.argpartition``/``argsort``. The K returned are exactly those of a float32 search over the
stored float16 rows; near-duplicate data only makes the candidate set larger.
Distances are cosine distances, 1 - cos, from 0 (same direction) to 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizcore.errors import VizcoreError

DEFAULT_K = 10
BFLOAT16_SCORE_ERROR = 2.0**-8 + 2.0**-9  # products of unit vectors (2 x 2^-9 relative) plus the rounded result


def normalised(vectors: np.ndarray, dtype=np.float16) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), in ``dtype``; computed in float32 chunks."""
    out = np.empty(vectors.shape, dtype=dtype)
    for start in range(0, len(vectors), 65536):
        chunk = np.asarray(vectors[start : start + 65536], dtype=np.float32)
        norms = np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start : start + 65536] = chunk / np.where(norms > 0, norms, 1)
    return out


class EmbeddingSearch:
    """Cosine search over N x D embeddings (any float dtype); ``nearest(vector, k)`` -> (rows, distances)."""

    def __init__(self, embeddings: np.ndarray):
        import tensorflow as tf

        if embeddings.ndim != 2 or len(embeddings) == 0:
            raise VizcoreError("The index holds no embeddings to search.")
        self.exact = normalised(embeddings, np.float16)
        self.fast = tf.cast(tf.constant(self.exact), tf.bfloat16)

    def __len__(self) -> int:
        return len(self.exact)

    def nearest(self, vector: np.ndarray, k: int = DEFAULT_K) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``k`` closest embeddings to ``vector`` (D floats), closest first, and their cosine distances."""
        import tensorflow as tf

        if not 1 <= k <= len(self):
            raise VizcoreError(f"K must be between 1 and {len(self)} (the images in the index), not {k}.")
        query = normalised(np.asarray(vector, dtype=np.float32)[None], np.float32)[0]
        scores = tf.linalg.matvec(self.fast, tf.cast(tf.constant(query), tf.bfloat16)).numpy().astype(np.float32)
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        rows = np.flatnonzero(scores >= kth - 2 * BFLOAT16_SCORE_ERROR)
        exact = self.exact[rows].astype(np.float32) @ query
        order = np.argsort(-exact, kind="stable")[:k]
        return rows[order], np.clip(1.0 - exact[order], 0.0, 2.0)


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
