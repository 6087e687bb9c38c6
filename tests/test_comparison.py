"""Two models on one image (vizcore/comparison.py): predictions lined up by class name, maps by their difference."""

import numpy as np
import pytest

from vizcore.comparison import compare_predictions, map_difference, matching_class, top_class_disagreements
from vizcore.errors import VizcoreError

NAMES = ["cat", "dog", "fox", "owl"]


def test_predictions_line_up_by_class_name_with_ranks_and_differences():
    first = np.array([0.6, 0.3, 0.06, 0.04])
    second = np.array([0.1, 0.2, 0.7])  # another model: its own classes, in its own order
    result = compare_predictions(first, NAMES, second, ["fox", "cat", "emu"], top_k=2)
    assert [row.label for row in result.rows] == ["cat", "dog", "emu"]  # the first model's top 2, then the second's
    cat, dog, emu = result.rows
    assert (cat.first_rank, cat.second_rank) == (1, 2) and cat.difference == pytest.approx(0.6 - 0.2)
    assert dog.second_rank is None and dog.difference is None  # the second model has no dog
    assert emu.first_probability is None and emu.second_rank == 1
    assert (result.first_top, result.second_top, result.same_top_class, result.shared_top_k) == ("cat", "emu", False, 1)


def test_the_same_model_agrees_with_itself():
    probabilities = np.array([0.1, 0.5, 0.3, 0.1])
    result = compare_predictions(probabilities, NAMES, probabilities, NAMES, top_k=3)
    assert result.same_top_class and result.shared_top_k == 3
    assert all(row.difference == 0 and row.first_rank == row.second_rank for row in result.rows)


def test_bad_comparisons_are_one_sentence():
    with pytest.raises(VizcoreError, match="one class name per probability"):
        compare_predictions(np.ones(3) / 3, NAMES, np.ones(4) / 4, NAMES)
    with pytest.raises(VizcoreError, match="at least the top class"):
        compare_predictions(np.ones(4) / 4, NAMES, np.ones(4) / 4, NAMES, top_k=0)


def test_matching_class_finds_a_name_or_says_none():
    assert matching_class("fox", NAMES) == 2 and matching_class("emu", NAMES) is None


def test_map_difference_of_maps_at_different_sizes():
    left = np.zeros((8, 8), np.float32)
    left[:, :4] = 1.0  # evidence on the left half
    right = np.fliplr(left)
    bigger_left = np.kron(left, np.ones((4, 4), np.float32))  # 32 x 32: the same map at another model's size
    same = map_difference(left, bigger_left, size=16)
    assert same.difference.shape == (16, 16)
    assert same.mean_absolute < 0.05 and same.correlation > 0.95
    opposite = map_difference(left, right, size=16)
    assert opposite.mean_absolute > 0.9 and opposite.correlation < -0.9
    assert opposite.difference[:, 0].min() > 0.9 and opposite.difference[:, -1].max() < -0.9  # first minus second
    assert map_difference(left, np.zeros((8, 8)), size=8).correlation == 0.0  # a flat map correlates with nothing


def test_map_difference_refuses_colour_maps():
    with pytest.raises(VizcoreError, match="one value per pixel"):
        map_difference(np.zeros((8, 8, 3)), np.zeros((8, 8)), size=8)


def index_rows(rows):
    """Image rows as an index stores them: path, top class name, the top-3 probabilities (a fixed-size list)."""
    import pyarrow as pa

    paths, predicted, top = zip(*rows)
    probabilities = pa.array(np.asarray(top, np.float32).ravel())
    return pa.table({"path": list(paths), "predicted": list(predicted),
                     "top_probabilities": pa.FixedSizeListArray.from_arrays(probabilities, 3)})


def test_two_indexes_join_by_path_and_keep_the_images_whose_top_class_names_differ():
    first = index_rows([("a.jpg", "cat", [0.9, 0.05, 0.05]), ("b.jpg", "dog", [0.5, 0.3, 0.2]),
                        ("c.jpg", "fox", [0.8, 0.1, 0.1]), ("only-first.jpg", "owl", [0.7, 0.2, 0.1]),
                        ("d.jpg", "owl", [0.6, 0.3, 0.1])])
    # The second model lists its rows in another order and has one image the first lacks.
    second = index_rows([("d.jpg", "emu", [0.95, 0.03, 0.02]), ("c.jpg", "fox", [0.4, 0.3, 0.3]),
                         ("only-second.jpg", "cat", [0.6, 0.2, 0.2]), ("b.jpg", "cat", [0.7, 0.2, 0.1]),
                         ("a.jpg", "tabby", [0.35, 0.35, 0.3])])
    result = top_class_disagreements(first, second)
    assert result.images == 4  # a, b, c, d: in both
    # c agrees (fox); the surest disagreement first: d (both >= 0.6), then b (0.5), then a (0.35).
    assert [(row.path, row.first_class, row.second_class) for row in result.disagreements] == [
        ("d.jpg", "owl", "emu"), ("b.jpg", "dog", "cat"), ("a.jpg", "cat", "tabby")]
    assert result.disagreements[0].first_probability == pytest.approx(0.6)
    assert result.disagreements[0].second_probability == pytest.approx(0.95)
    record = result.as_dict()
    assert (record["images"], record["disagreements"]) == (4, 3)
    assert set(record["rows"][0]) == {"path", "first_class", "first_probability", "second_class", "second_probability"}
    assert top_class_disagreements(first, first).disagreements == []  # a model agrees with itself
    with pytest.raises(VizcoreError, match="lack the columns predicted"):
        top_class_disagreements(first.drop_columns(["predicted"]), second)

