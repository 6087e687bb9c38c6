"""Two models on one image: where their predictions and their attribution maps differ; and over a
dataset, the images on which their top classes differ.

Models are compared by class name, so two models with different outputs (an ImageNet model and
a fine-tuned one with its own classes) still line up on the classes they share. Maps are compared
as they are shown (``viz.display_map``: 0..1), at one size. Two indexes of one dataset
(vizcore/datasets/index.py) are joined by image path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from vizcore.errors import VizcoreError


@dataclass(frozen=True)
class ClassRow:
    """One class in either model's top k: its rank (1 = top) and probability in each, None where a model lacks it."""

    label: str
    first_rank: int | None
    first_probability: float | None
    second_rank: int | None
    second_probability: float | None

    @property
    def difference(self) -> float | None:
        """First model's probability minus the second's (-1..1), None unless both have the class."""
        if self.first_probability is None or self.second_probability is None:
            return None
        return self.first_probability - self.second_probability

    def as_dict(self) -> dict:
        return {**asdict(self), "difference": self.difference}


@dataclass(frozen=True)
class PredictionComparison:
    """The union of both models' top ``top_k`` classes, the first model's order first, and how far they agree."""

    rows: list[ClassRow]
    top_k: int
    first_top: str  # each model's top class
    second_top: str
    shared_top_k: int  # classes in both top-k lists

    @property
    def same_top_class(self) -> bool:
        return self.first_top == self.second_top

    def as_dict(self) -> dict:
        return {"top_k": self.top_k, "first_top": self.first_top, "second_top": self.second_top,
                "same_top_class": self.same_top_class, "shared_top_k": self.shared_top_k,
                "rows": [row.as_dict() for row in self.rows]}


def _ranks(probabilities: np.ndarray) -> np.ndarray:
    """Each class's rank, 1 for the most probable."""
    ranks = np.empty(len(probabilities), dtype=int)
    ranks[np.argsort(-probabilities, kind="stable")] = np.arange(1, len(probabilities) + 1)
    return ranks


def compare_predictions(
    first: np.ndarray, first_names: list[str], second: np.ndarray, second_names: list[str], top_k: int = 5,
) -> PredictionComparison:
    """Line up two models' class probabilities (each a vector over its own ``*_names``) by class name.

    Raises VizcoreError when ``top_k`` is below 1 or a vector and its names differ in length.
    """
    if top_k < 1:
        raise VizcoreError(f"Compare at least the top class, not the top {top_k}.")
    if len(first) != len(first_names) or len(second) != len(second_names):
        raise VizcoreError("Each model needs one class name per probability to be compared.")
    first_ranks, second_ranks = _ranks(first), _ranks(second)
    first_index = {name: index for index, name in enumerate(first_names)}
    second_index = {name: index for index, name in enumerate(second_names)}
    first_top = [first_names[index] for index in np.argsort(-first, kind="stable")[:top_k]]
    second_top = [second_names[index] for index in np.argsort(-second, kind="stable")[:top_k]]

    def row(label: str) -> ClassRow:
        one, two = first_index.get(label), second_index.get(label)
        return ClassRow(
            label,
            None if one is None else int(first_ranks[one]), None if one is None else float(first[one]),
            None if two is None else int(second_ranks[two]), None if two is None else float(second[two]),
        )

    labels = list(dict.fromkeys(first_top + second_top))
    return PredictionComparison([row(label) for label in labels], top_k, first_top[0], second_top[0],
                                len(set(first_top) & set(second_top)))


def matching_class(label: str, names: list[str]) -> int | None:
    """The index of class ``label`` among another model's ``names``, or None when that model has no such class."""
    try:
        return list(names).index(label)
    except ValueError:
        return None


@dataclass(frozen=True)
class MapDifference:
    """Two displayed maps (0..1) at one size, and how far apart they are."""

    difference: np.ndarray  # S x S float32: first minus second, -1..1
    mean_absolute: float  # mean |first - second|: 0 for the same map, 1 for opposite ones
    correlation: float  # Pearson correlation of the two maps, -1..1 (0 when either is flat)

    def summary(self) -> dict:
        return {"mean_absolute_difference": self.mean_absolute, "correlation": self.correlation}


def map_difference(first: np.ndarray, second: np.ndarray, size: int) -> MapDifference:
    """Compare two displayed maps (any H x W, values 0..1), both resized to ``size`` x ``size`` px first.

    Raises VizcoreError when a map is not 2-D or ``size`` is below 1.
    """
    if first.ndim != 2 or second.ndim != 2:
        raise VizcoreError("Maps to compare must be one value per pixel (H x W).")
    if size < 1:
        raise VizcoreError(f"Compare maps at 1 px or more, not {size}.")
    one, two = (cv2.resize(np.clip(values, 0.0, 1.0).astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
                for values in (first, second))
    difference = one - two
    spread = float(one.std() * two.std())
    correlation = float(np.mean((one - one.mean()) * (two - two.mean())) / spread) if spread > 0 else 0.0
    return MapDifference(difference, float(np.abs(difference).mean()), correlation)


@dataclass(frozen=True)
class Disagreement:
    """One image whose top class differs between the two models: each model's top class and its probability (0-1)."""

    path: str  # relative to the dataset's root, as in the index
    first_class: str
    first_probability: float
    second_class: str
    second_probability: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IndexDisagreements:
    """Two indexes of one dataset joined by path: how many images both hold, and those whose top classes differ."""

    images: int  # images in both indexes
    disagreements: list[Disagreement]  # the surest disagreements first: by the lower of the two probabilities

    def as_dict(self) -> dict:
        return {"images": self.images, "disagreements": len(self.disagreements),
                "rows": [row.as_dict() for row in self.disagreements]}


def _top_classes(table):
    """``path``, ``predicted`` and the top class's ``probability`` of an index's image rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = {"path", "predicted", "top_probabilities"} - set(table.column_names)
    if missing:
        raise VizcoreError(f"These index rows lack the columns {', '.join(sorted(missing))}, so they cannot be compared.")
    return pa.table({"path": table["path"], "predicted": table["predicted"],
                     "probability": pc.list_element(table["top_probabilities"], 0)})


def top_class_disagreements(first, second) -> IndexDisagreements:
    """Join two indexes' image rows (pyarrow Tables with ``path``, ``predicted``, ``top_probabilities``, as
    ``vizcore.datasets.index.read_images`` returns them) by path, and keep the images whose top class names differ.

    Images in one index only are left out. Raises VizcoreError when a table lacks one of those columns.
    """
    import pyarrow.compute as pc

    joined = _top_classes(first).join(_top_classes(second), "path", join_type="inner",
                                      left_suffix="_first", right_suffix="_second")
    differ = joined.filter(pc.not_equal(joined["predicted_first"], joined["predicted_second"]))
    paths = differ["path"].to_pylist()
    classes = [differ[f"predicted_{side}"].to_pylist() for side in ("first", "second")]
    probabilities = [differ[f"probability_{side}"].to_numpy().astype(float) for side in ("first", "second")]
    surest = np.minimum(*probabilities)
    order = sorted(range(len(paths)), key=lambda row: (-surest[row], paths[row]))
    rows = [Disagreement(paths[i], classes[0][i], float(probabilities[0][i]), classes[1][i], float(probabilities[1][i]))
            for i in order]
    return IndexDisagreements(joined.num_rows, rows)


def index_disagreements(first_dir, second_dir) -> IndexDisagreements:
    """``top_class_disagreements`` of the finished indexes in two folders (one sentence when one is not an index)."""
    from vizcore.datasets.index import read_images

    columns = ["path", "predicted", "top_probabilities"]
    return top_class_disagreements(read_images(first_dir, columns), read_images(second_dir, columns))
