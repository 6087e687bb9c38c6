"""How faithful a map is: deletion and insertion curves (Petsiuk et al. 2018) and their areas.

Deletion hides the pixels the map ranks highest first (replacing them with a blurred copy of the
image) and follows the class probability as more are hidden: a faithful map makes it fall fast,
a small area. Insertion starts from the blurred image and restores the top pixels first: a
faithful map makes the probability rise fast, a large area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizcore.attribution.common import class_scores, image_batch, softmax
from vizcore.attribution.gradients import baseline_image
from vizcore.models.spec import LoadedModel

CURVE_STEPS = 24


@dataclass(frozen=True)
class FaithfulnessCurves:
    fractions: np.ndarray  # share of pixels changed, 0..1
    deletion: np.ndarray  # class probability as the top pixels are hidden
    insertion: np.ndarray  # class probability as the top pixels are restored
    deletion_area: float  # lower is more faithful
    insertion_area: float  # higher is more faithful


def _area(fractions: np.ndarray, values: np.ndarray) -> float:
    return float(np.sum((values[1:] + values[:-1]) * np.diff(fractions)) / 2.0)


def faithfulness(
    loaded: LoadedModel, pixels: np.ndarray, values: np.ndarray, class_index: int, steps: int = CURVE_STEPS
) -> FaithfulnessCurves:
    """Deletion and insertion curves of the S x S map ``values`` for ``class_index`` on ``pixels``."""
    image = image_batch(loaded, pixels).numpy()[0]
    blurred = baseline_image(loaded, image, "blurred")
    size = image.shape[0]
    rng = np.random.default_rng(0)  # ties (flat maps) broken at random, not in raster order
    order = np.lexsort((rng.random(size * size), -values.reshape(-1)))
    fractions = np.linspace(0.0, 1.0, steps + 1)
    deleted, inserted = [], []
    for fraction in fractions:
        top = np.zeros(size * size, bool)
        top[order[: int(round(fraction * size * size))]] = True
        top = top.reshape(size, size, 1)
        deleted.append(np.where(top, blurred, image))
        inserted.append(np.where(top, image, blurred))
    probabilities = softmax(class_scores(loaded, np.stack(deleted + inserted)))[:, class_index]
    deletion, insertion = probabilities[: steps + 1], probabilities[steps + 1 :]
    return FaithfulnessCurves(fractions, deletion, insertion, _area(fractions, deletion), _area(fractions, insertion))
