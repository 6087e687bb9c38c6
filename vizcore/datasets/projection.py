"""An index's embeddings as a 2-D map: PCA, t-SNE (scikit-learn) or UMAP (umap-learn).

``project(embeddings, method, seed)`` returns N x 2 float32 coordinates, the same for the same
input and seed. The embeddings are first reduced to at most ``PRE_REDUCED_DIMENSIONS`` by PCA
(t-SNE and UMAP take their neighbourhoods from there: far faster on 1280-d features, and the
usual practice). t-SNE and UMAP cost grows faster than the point count, so above
``vizcore.limits.MAX_MAP_FITTED_POINTS`` they are fitted on that many points chosen by ``seed``, and
every other point is placed at the distance-weighted mean of its ``PLACEMENT_NEIGHBOURS`` nearest
fitted points (in the PCA-reduced space). PCA always fits every point. scikit-learn and
umap-learn are imported only when a map is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizcore.errors import VizcoreError

METHODS = ("pca", "tsne", "umap")
METHOD_TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
MIN_POINTS = 3
PRE_REDUCED_DIMENSIONS = 50
TSNE_PERPLEXITY = 30.0  # scikit-learn's default, lowered for small sets (it must stay below N)
TSNE_ITERATIONS = 500  # half scikit-learn's default: the layout has settled by then, at half the wait
UMAP_NEIGHBOURS = 15  # umap-learn's default, lowered for small sets
PLACEMENT_NEIGHBOURS = 5
IDENTICAL_SPREAD = 1e-9  # PCA coordinates spanning less than this (relative) are all one point
MAP_SIDE = 720  # px of the scatter's square, inside MAP_MARGIN
MAP_MARGIN = 30
LEGEND_WIDTH = 230
LEGEND_ROWS = 30
# Tableau's ten categorical colours (matplotlib's tab10), RGB; more groups take evenly spaced turbo colours.
CATEGORICAL_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                       (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def project(embeddings: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D coordinates (N x 2 float32, arbitrary units) of ``embeddings`` (N x D, any float dtype, N >= 3).

    ``method``: "pca", "tsne" or "umap". ``seed``: any integer; the same seed gives the same map.
    Identical embeddings all map to (0, 0). Raises VizcoreError with one sentence for an unknown
    method, fewer than 3 points, or values that are not finite numbers.
    """
    from vizcore.limits import MAX_MAP_FITTED_POINTS

    if method not in METHODS:
        raise VizcoreError(f"Unknown map method {method!r}: choose one of {', '.join(METHODS)}.")
    points = _checked(embeddings)
    if method == "pca":
        return _pca(points, 2, seed).astype(np.float32)
    reduced = _pca(points, min(PRE_REDUCED_DIMENSIONS, *points.shape), seed)
    fit = _fitting_rows(len(points), MAX_MAP_FITTED_POINTS, seed)
    if np.ptp(reduced[fit], axis=0).max(initial=0.0) <= IDENTICAL_SPREAD * max(1.0, float(np.abs(points).max())):
        return np.zeros((len(points), 2), np.float32)  # all images alike: one spot (t-SNE would crash on it)
    layout = _tsne(reduced[fit], seed) if method == "tsne" else _umap(reduced[fit], seed)
    if len(fit) == len(points):
        return layout.astype(np.float32)
    return _place_others(reduced, fit, layout).astype(np.float32)


def _checked(embeddings) -> np.ndarray:
    try:
        points = np.asarray(embeddings, dtype=np.float32)  # float64 would double a large index's memory
    except (TypeError, ValueError):
        raise VizcoreError("The embeddings must be a table of numbers, one row per image.") from None
    if points.ndim != 2 or points.shape[1] == 0:
        raise VizcoreError(f"The embeddings must be an N x D table, not an array of shape {points.shape}.")
    if len(points) < MIN_POINTS:
        raise VizcoreError(f"A map needs at least {MIN_POINTS} images, not {len(points)}.")
    if not np.isfinite(points).all():
        raise VizcoreError("The embeddings hold values that are not finite numbers, so they cannot be mapped.")
    return points


def _pca(points: np.ndarray, components: int, seed: int) -> np.ndarray:
    """The first ``components`` principal coordinates; padded with zeros when the data have fewer dimensions."""
    from sklearn.decomposition import PCA

    usable = min(components, points.shape[1], len(points))
    with np.errstate(divide="ignore", invalid="ignore"):  # explained-variance ratios of identical points: 0 / 0
        coordinates = PCA(n_components=usable, random_state=seed).fit_transform(points)
    if usable < components:
        coordinates = np.pad(coordinates, ((0, 0), (0, components - usable)))
    return coordinates


def _fitting_rows(count: int, cap: int, seed: int) -> np.ndarray:
    if count <= cap:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, cap, replace=False))


def _tsne(points: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = min(TSNE_PERPLEXITY, (len(points) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", max_iter=TSNE_ITERATIONS,
                random_state=seed).fit_transform(points)


def _umap(points: np.ndarray, seed: int) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": wanted, for determinism
        warnings.simplefilter("ignore")
        import umap

        neighbours = max(2, min(UMAP_NEIGHBOURS, len(points) - 1))
        # Spectral initialisation needs more points than neighbours to be well posed; tiny sets start at random.
        init = "spectral" if len(points) > 2 * neighbours else "random"
        return umap.UMAP(n_components=2, n_neighbors=neighbours, init=init, random_state=seed).fit_transform(points)


def _place_others(reduced: np.ndarray, fit: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """Every point's position: the fitted ones as laid out, the rest near their nearest fitted points."""
    from sklearn.neighbors import NearestNeighbors

    positions = np.empty((len(reduced), 2), dtype=np.float64)
    positions[fit] = layout
    others = np.setdiff1d(np.arange(len(reduced)), fit)
    distances, nearest = NearestNeighbors(n_neighbors=min(PLACEMENT_NEIGHBOURS, len(fit))).fit(reduced[fit]).kneighbors(
        reduced[others])
    weights = 1.0 / (distances + 1e-9)
    positions[others] = (layout[nearest] * weights[..., None]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
    return positions


@dataclass(frozen=True)
class IndexPoints:
    """An index's image rows for a map: ``embeddings`` N x D float16, with each row's path, label and prediction."""

    paths: list
    labels: list  # the class folder, or None
    predicted: list
    embeddings: np.ndarray


def read_index_points(index_dir) -> IndexPoints:
    """The embeddings of a finished index with their paths, labels and predicted classes, in the index's row order."""
    from vizcore.datasets.index import read_images

    table = read_images(index_dir, columns=["path", "label", "predicted", "embedding"])
    column = table["embedding"].combine_chunks()
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return IndexPoints(table["path"].to_pylist(), table["label"].to_pylist(), table["predicted"].to_pylist(),
                       flat.reshape(table.num_rows, column.type.list_size))


def scatter_picture(xy: np.ndarray, groups: list, title: str = "") -> np.ndarray:
    """A labelled scatter of N x 2 ``xy`` as H x W x 3 uint8 RGB: one colour per group, a legend on the right.

    ``groups``: N names (None shows as "unlabelled"); the ``LEGEND_ROWS`` largest groups get a legend row.
    """
    import cv2

    names = ["unlabelled" if group is None else str(group) for group in groups]
    kinds, counts = np.unique(names, return_counts=True)
    kinds = kinds[np.argsort(-counts, kind="stable")]
    colours = {kind: _group_colour(position, len(kinds)) for position, kind in enumerate(kinds)}
    picture = np.full((MAP_SIDE + 2 * MAP_MARGIN, MAP_SIDE + 2 * MAP_MARGIN + LEGEND_WIDTH, 3), 255, np.uint8)
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    pixels = np.round(MAP_MARGIN + (xy - low) / span * MAP_SIDE).astype(np.int32)
    pixels[:, 1] = picture.shape[0] - pixels[:, 1]  # y grows upwards on the map, downwards in the picture
    radius = 4 if len(xy) <= 2000 else 2
    for (x, y), name in zip(pixels.tolist(), names):
        cv2.circle(picture, (x, y), radius, colours[name], -1, lineType=cv2.LINE_AA)
    text = dict(fontFace=cv2.FONT_HERSHEY_SIMPLEX, fontScale=0.5, thickness=1, lineType=cv2.LINE_AA)
    cv2.putText(picture, title, (MAP_MARGIN, MAP_MARGIN // 2 + 5), color=(0, 0, 0), **text)
    left = MAP_SIDE + 2 * MAP_MARGIN
    for row, kind in enumerate(kinds[:LEGEND_ROWS]):
        top = MAP_MARGIN + row * 22
        cv2.circle(picture, (left + 6, top), 5, colours[kind], -1, lineType=cv2.LINE_AA)
        cv2.putText(picture, kind[:26], (left + 18, top + 5), color=(0, 0, 0), **text)
    if len(kinds) > LEGEND_ROWS:
        cv2.putText(picture, f"... {len(kinds) - LEGEND_ROWS} more", (left + 18, MAP_MARGIN + LEGEND_ROWS * 22 + 5),
                    color=(90, 90, 90), **text)
    return picture


def _group_colour(position: int, groups: int) -> tuple[int, int, int]:
    if groups <= len(CATEGORICAL_COLOURS):
        return CATEGORICAL_COLOURS[position]
    from vizcore.viz import colorize

    return tuple(int(value) for value in colorize(np.array([[position / max(1, groups - 1)]]), "turbo")[0, 0])
