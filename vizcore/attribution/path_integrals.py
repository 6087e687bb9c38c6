"""Integrated Gradients (Sundararajan et al. 2017), to a requested completeness.

IG gives each input value (x - x') times the class score's gradient averaged along the straight
path x' + alpha (x - x'), alpha from 0 (the baseline x') to 1 (the image x). The attributions
should sum to f(x) - f(x'); how far they miss, as a share of f(x) - f(x'), is the completeness
error. The average is a quadrature over alpha, and evenly spaced alphas miss where the score
changes fast: on the embedded model the class score can rise within a narrow band of alpha next
to a black baseline, so the error jumps around as the step count grows instead of falling.

Every interval [a, b] of alpha checks itself: the score h(alpha) along the path is known exactly
from the same forward pass as the gradient, and h' is the gradient dotted with (x - x'), so the
interval's quadrature of h' should equal h(b) - h(a), and the intervals' misses add up to the
completeness error. The tolerance mode (the default) integrates with Simpson's rule and halves the
intervals that miss most, a batch per round, until the completeness error is at most
``tolerance`` and no single interval misses by more (so coarse misses cannot cancel out). The
score's many ReLU kinks make h' jagged, so the misses' absolute sum falls slowly; their signed sum,
the completeness error, falls fast. Tolerance 0 is the classic trapezoid rule over evenly spaced
alphas.

Only the colour-summed attribution of each gradient is kept (S x S float32, S = model input
size), so the refinement holds at most ``steps`` of those: 100 MB at 512 steps and 224 px.
bench/ig.py measures the steps, errors and time against evenly spaced steps on the sample photos.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from vizcore.attribution.common import AttributionMap, batches, choose_target, image_batch
from vizcore.attribution.gradients import GRADIENT_CHUNK, baseline_image, input_gradients
from vizcore.attribution.methods import METHODS
from vizcore.models.spec import LoadedModel

INITIAL_INTERVALS = (GRADIENT_CHUNK - 1) // 2  # evenly spaced Simpson intervals first: 2n + 1 alphas, one batched call
ROUND_SIZE = GRADIENT_CHUNK  # new alphas per refinement round (two per halved interval): one batched call
SMALLEST_WIDTH = 1e-5  # of alpha: narrower intervals are not halved (float32 alphas would repeat)
SMALLEST_DIFFERENCE = 1e-6  # |f(x) - f(x')| below this counts as this, so the relative error stays finite
DEFAULT_TOLERANCE = METHODS["ig"].option("tolerance").default

# progress(done, total, partial): gradient evaluations done, the most there will be, and the S x S map so far.
Progress = Callable[[int, int, np.ndarray], None]


class _Path:
    """The straight path from the baseline to the image, evaluated at chosen alphas.

    Per alpha: the class score, its slope along the path (gradient dot (x - x')) and the
    attribution density (x - x') * gradient summed over colour channels, S x S.
    """

    def __init__(self, loaded: LoadedModel, image: np.ndarray, reference: np.ndarray, class_index: int,
                 contrast_class: int | None):
        self.loaded, self.reference = loaded, reference
        self.class_index, self.contrast_class = class_index, contrast_class
        self.difference = image - reference
        self.alphas: list[float] = []
        self.scores: list[float] = []
        self.slopes: list[float] = []
        self.densities: list[np.ndarray] = []

    def evaluate(self, alphas) -> list[int]:
        """Score and differentiate the path at ``alphas`` (one batched call); their indices in this path."""
        alphas = np.asarray(alphas, np.float32)
        batch = self.reference[None] + alphas[:, None, None, None] * self.difference[None]
        scores, gradients = input_gradients(self.loaded, batch, self.class_index, contrast_class=self.contrast_class)
        densities = (gradients * self.difference[None]).sum(axis=-1)
        first = len(self.alphas)
        self.alphas += [float(alpha) for alpha in alphas]
        self.scores += [float(score) for score in scores]
        self.slopes += [float(density.sum(dtype=np.float64)) for density in densities]
        self.densities += list(densities)
        return list(range(first, len(self.alphas)))

    def score_difference(self) -> float:
        """f(image) - f(baseline): the score at alpha 1 minus the score at alpha 0."""
        return self.scores[int(np.argmax(self.alphas))] - self.scores[int(np.argmin(self.alphas))]

    def map(self, weights: dict[int, float]) -> np.ndarray:
        """The attribution map for quadrature ``weights`` (path index -> weight over alpha), S x S."""
        total = np.zeros(self.difference.shape[:2])  # float64, as the interval checks add up: their sums agree
        for index, weight in weights.items():
            total += weight * self.densities[index]
        return total.astype(np.float32)


class _Interval:
    """A Simpson interval: path indices of its start, middle and end alphas, and how far it misses its check."""

    def __init__(self, path: _Path, start: int, middle: int, end: int):
        self.start, self.middle, self.end = start, middle, end
        self.width = path.alphas[end] - path.alphas[start]
        self.weights = {start: self.width / 6.0, middle: 4.0 * self.width / 6.0, end: self.width / 6.0}
        estimate = sum(weight * path.slopes[index] for index, weight in self.weights.items())
        self.miss = estimate - (path.scores[end] - path.scores[start])  # signed: the misses add up to the total's

    def halves(self, path: _Path) -> tuple[float, float]:
        """The alphas that split this interval into two Simpson intervals."""
        start, middle, end = (path.alphas[index] for index in (self.start, self.middle, self.end))
        return (start + middle) / 2.0, (middle + end) / 2.0


def _simpson_weights(intervals: list[_Interval]) -> dict[int, float]:
    weights: dict[int, float] = {}
    for interval in intervals:
        for index, weight in interval.weights.items():
            weights[index] = weights.get(index, 0.0) + weight
    return weights


def _adaptive(path: _Path, steps: int, tolerance: float, progress: Progress | None) -> tuple[dict[int, float], bool]:
    """Simpson weights per path index, refined until the tolerance is met; and whether it is.

    Met: the misses add up to at most ``tolerance`` of |f(x) - f(x')| (that sum is the completeness
    error of the returned weights), and no interval alone misses by more, so two coarse intervals
    that miss in opposite directions cannot pass by cancelling. Each round halves the intervals
    that miss most, as many as one batched gradient call allows.
    """
    initial = min(INITIAL_INTERVALS, (steps - 1) // 2)
    indices = path.evaluate(np.linspace(0.0, 1.0, 2 * initial + 1))
    intervals = [_Interval(path, *indices[2 * k:2 * k + 3]) for k in range(initial)]
    allowed_miss = tolerance * max(abs(path.score_difference()), SMALLEST_DIFFERENCE)
    while True:
        weights = _simpson_weights(intervals)
        if progress is not None:
            progress(len(path.alphas), steps, path.map(weights))
        total_miss = abs(sum(interval.miss for interval in intervals))
        if total_miss <= allowed_miss and max(abs(interval.miss) for interval in intervals) <= allowed_miss:
            return weights, True
        divisible = [interval for interval in intervals if interval.width > SMALLEST_WIDTH]
        room = min(ROUND_SIZE, steps - len(path.alphas)) // 2
        chosen = sorted(divisible, key=lambda interval: abs(interval.miss), reverse=True)[:room]
        if not chosen:
            return weights, False
        new = path.evaluate([alpha for interval in chosen for alpha in interval.halves(path)])
        halves = []
        for number, interval in enumerate(chosen):
            left, right = new[2 * number], new[2 * number + 1]
            halves += [_Interval(path, interval.start, left, interval.middle),
                       _Interval(path, interval.middle, right, interval.end)]
        intervals = [interval for interval in intervals if interval not in chosen] + halves


def _coarse_to_fine(count: int) -> list[int]:
    """0 .. count - 1 ordered so that every prefix spreads over the whole range: both ends, then the
    multiples of ever smaller powers of two (0, 8, 4, 2, 6, 1, 3, 5, 7 for count 9)."""
    order = [0, count - 1]
    stride = 1 << max(count - 2, 1).bit_length()
    while stride >= 1:
        order += [index for index in range(stride, count - 1, stride) if index % (2 * stride)]
        stride //= 2
    return list(dict.fromkeys(order))


def _trapezoid_weights(path: _Path, indices: list[int]) -> dict[int, float]:
    """Trapezoid-rule weights over the alphas at ``indices`` (in any order; 0 and 1 among them)."""
    ordered = sorted(indices, key=lambda index: path.alphas[index])
    alphas = np.array([path.alphas[index] for index in ordered])
    gaps = np.diff(alphas)
    weights = np.zeros(len(ordered))
    weights[:-1] += gaps / 2.0
    weights[1:] += gaps / 2.0
    return dict(zip(ordered, weights.tolist()))


def _evenly_spaced(path: _Path, steps: int, progress: Progress | None) -> dict[int, float]:
    """Trapezoid weights over ``steps`` evenly spaced alphas (0 and 1 included).

    The alphas are evaluated a batch at a time, coarse to fine, so each partial map is the
    trapezoid rule over a coarser spread of the same path, in the final map's units.
    """
    alphas = np.linspace(0.0, 1.0, steps)
    order = _coarse_to_fine(steps)
    done: list[int] = []
    for start, end in batches(steps, GRADIENT_CHUNK):
        done += path.evaluate(alphas[order[start:end]])
        if progress is not None and end < steps:
            progress(end, steps, path.map(_trapezoid_weights(path, done)))
    weights = _trapezoid_weights(path, done)
    if progress is not None:
        progress(steps, steps, path.map(weights))
    return weights


def integrated_gradients(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, steps: int = 256,
    baseline: str = "black", tolerance: float = 0.01, seed: int = 0, contrast_class: int | None = None,
    progress: Progress | None = None,
) -> AttributionMap:
    """Integrated Gradients of the class score before softmax, from a ``baseline`` image to ``pixels``.

    ``pixels``: RGB uint8 (0-255). ``tolerance`` (0 to 0.5): the completeness error to reach, as a
    share of f(image) - f(baseline), by refining the alphas where the score changes (see the
    module docstring), using at most ``steps`` gradient evaluations (2 to 512); with tolerance 0,
    exactly ``steps`` evenly spaced alphas and the trapezoid rule. ``seed`` draws the ``noise``
    baseline. With ``contrast_class``, the score is the class's logit minus that class's logit
    (a contrastive map), and completeness is checked on that difference.

    ``progress(done, total, partial)`` is called after each batch of gradients with the
    evaluations done, ``steps`` (the most there will be) and the S x S map so far, in the final
    map's units; an exception it raises stops the run and propagates.

    ``values`` is the signed attribution summed over colour channels, S x S float32. ``details``:
    ``steps`` (gradient evaluations used), ``completeness_error``, ``attribution_sum``,
    ``score_difference``, ``baseline``, ``tolerance``, and ``tolerance_met`` (False when ``steps``
    ran out first; None at tolerance 0).
    """
    METHODS["ig"].check({"steps": steps, "baseline": baseline, "tolerance": tolerance})
    batch = image_batch(loaded, pixels)
    target = choose_target(loaded, batch, class_index, contrast_class)
    image = batch.numpy()[0]
    reference = baseline_image(loaded, image, baseline, seed)
    path = _Path(loaded, image, reference, target.class_index, target.contrast_class)
    if tolerance > 0 and steps >= 3:
        weights, met = _adaptive(path, steps, tolerance, progress)
    else:
        weights, met = _evenly_spaced(path, steps, progress), None
    values = path.map(weights)
    total, expected = float(values.sum(dtype=np.float64)), path.score_difference()
    error = abs(total - expected) / max(abs(expected), SMALLEST_DIFFERENCE)
    details = {
        "steps": len(path.alphas),
        "tolerance": tolerance,
        "tolerance_met": (error <= tolerance if met is None else met) if tolerance > 0 else None,
        "baseline": baseline,
        "attribution_sum": total,
        "score_difference": expected,
        "completeness_error": error,
    }
    return target.map("ig", values, details=details)


def completeness_summary(details: dict) -> str:
    """One phrase for a user: the completeness error, the steps it took, and what would lower it.

    ``details``: an Integrated Gradients map's ``details``. Under a tolerance it says whether the
    tolerance was met or the step limit stopped the run first; with evenly spaced steps and an
    error above the default tolerance it points to the tolerance mode, since more evenly spaced
    steps need not lower the error.
    """
    error, steps, tolerance = details["completeness_error"], details["steps"], details["tolerance"]
    if tolerance == 0:
        text = f"completeness error {error:.1%} with {steps} evenly spaced gradient steps"
        if error > DEFAULT_TOLERANCE:
            text += " (set an IG tolerance to refine the path where the score changes: more even steps may not help)"
        return text
    text = f"completeness error {error:.1%} after {steps} gradient steps"
    if details["tolerance_met"]:
        return text + f" (tolerance {tolerance:.1%})"
    return text + f": the step limit stopped it short of the {tolerance:.1%} tolerance (raise the IG steps)"
