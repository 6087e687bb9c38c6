"""The embedding map: PCA keeps a line's order, every method keeps separated clusters apart, a seed fixes the map."""

import numpy as np
import pytest

import vizcore.limits
from vizcore.datasets.projection import METHODS, project
from vizcore.errors import VizcoreError

DIMENSION = 64


def two_clusters(per_cluster: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two tight groups of float16 vectors far apart, shuffled; and each row's group (0 or 1)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2, DIMENSION)) * 10
    groups = rng.permutation(np.repeat([0, 1], per_cluster))
    points = centres[groups] + rng.standard_normal((len(groups), DIMENSION))
    return points.astype(np.float16), groups


def assert_separated(xy: np.ndarray, groups: np.ndarray) -> None:
    """Every point lies nearer its own group's centre than the other group's."""
    centres = np.stack([xy[groups == group].mean(axis=0) for group in (0, 1)])
    distances = np.linalg.norm(xy[:, None, :] - centres[None], axis=2)
    assert (distances.argmin(axis=1) == groups).all()


def test_pca_of_points_on_a_line_keeps_their_order():
    rng = np.random.default_rng(1)
    positions = rng.permutation(np.linspace(-5, 5, 40))
    direction = rng.standard_normal(DIMENSION)
    points = positions[:, None] * direction + 0.01 * rng.standard_normal((40, DIMENSION))
    xy = project(points.astype(np.float32), "pca")
    assert xy.shape == (40, 2) and xy.dtype == np.float32
    order = np.argsort(xy[:, 0])
    assert np.array_equal(order, np.argsort(positions)) or np.array_equal(order, np.argsort(-positions))
    assert np.abs(xy[:, 1]).max() < 0.05 * np.abs(xy[:, 0]).max()  # nothing left across the line


@pytest.mark.parametrize("method", METHODS)
def test_separated_clusters_stay_apart_and_a_seed_fixes_the_map(method):
    points, groups = two_clusters(25)
    xy = project(points, method, seed=3)
    assert xy.shape == (50, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    assert_separated(xy, groups)
    assert np.array_equal(project(points, method, seed=3), xy)


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_above_the_cap_the_other_points_join_their_cluster(method, monkeypatch):
    monkeypatch.setattr(vizcore.limits, "MAX_MAP_FITTED_POINTS", 30)
    points, groups = two_clusters(30, seed=5)
    xy = project(points, method, seed=0)
    assert xy.shape == (60, 2) and np.isfinite(xy).all()
    assert_separated(xy, groups)


def test_bad_input_is_one_sentence():
    points, _ = two_clusters(5)
    with pytest.raises(VizcoreError, match="at least 3 images, not 2"):
        project(points[:2], "pca")
    with pytest.raises(VizcoreError, match="Unknown map method 'mds'"):
        project(points, "mds")
    with pytest.raises(VizcoreError, match="N x D table"):
        project(points[0], "pca")
    broken = points.astype(np.float32)
    broken[1, 2] = np.nan
    with pytest.raises(VizcoreError, match="not finite"):
        project(broken, "umap")


@pytest.mark.parametrize("method", METHODS)
def test_identical_images_map_to_one_spot(method):
    """A folder of copies of one image: every method puts them together (scikit-learn's t-SNE would crash)."""
    xy = project(np.ones((12, DIMENSION), np.float16), method)
    assert xy.shape == (12, 2) and not xy.any()
