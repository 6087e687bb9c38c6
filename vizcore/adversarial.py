"""Adversarial examples: FGSM and PGD under L-infinity or L2, untargeted or towards any class.

An attack changes the image as the model sees it (``images.fit_to_model``: S x S, the centre
crop) by at most ``epsilon`` in 0-255 pixel units, so that the model's top class changes
(untargeted) or becomes the ``target`` class (targeted: the lecture's fooling images). FGSM
(Goodfellow et al. 2015) takes one step of size epsilon along the sign of the gradient; PGD
(Madry et al. 2018) takes ``steps`` smaller steps from the image, each projected back into the
epsilon ball and the 0-255 box. The loss is the cross-entropy of the model's scores before the
softmax: climbed for the original class, descended for the target.

Real after saving: the result is rounded to uint8 with the perturbation kept within epsilon
exactly (``saved_pixels``), encoded as PNG and decoded again, and every number reported (the
classes, ``linf``, ``l2``, ``success``) is of that decoded image, through the same prediction
path as ``vizcore predict``. One PGD step is one traced function owned by the model's
attribution view (``loaded.derived``), the same trace for every image, epsilon and step size,
run as a long run's step (``loaded.step``: quick requests from other sessions go first).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.images import decode_image, encode_png, fit_to_model
from vizcore.limits import MAX_SECONDS, MAX_STEPS
from vizcore.models.graph import SCORE
from vizcore.models.spec import LoadedModel
from vizcore.predictions import class_probabilities

METHODS = ("fgsm", "pgd")
NORMS = ("linf", "l2")
NORM_TITLES = {"linf": "L∞", "l2": "L2"}
# Epsilon in 0-255 pixel units: L-infinity bounds every channel value, L2 the whole perturbation's
# length (S x S x 3 values: at 224 px, 128 in L2 is a root-mean-square change of 0.33 levels).
DEFAULT_EPSILON = {"linf": 2.0, "l2": 128.0}
MIN_EPSILON = 1.0  # one uint8 level: anything smaller rounds away when the image is saved
MAX_EPSILON = {"linf": 64.0, "l2": 8192.0}
DEFAULT_STEPS = 10
PGD_STEP_SHARE = 2.5  # PGD's default step: 2.5 * epsilon / steps (Madry et al. 2018)
_TINY = 1e-12


@dataclass(frozen=True)
class AttackSettings:
    """What to attack with: ``epsilon`` and ``step_size`` in 0-255 pixel units (None: the defaults below).

    ``epsilon`` None: DEFAULT_EPSILON of the norm. ``step_size`` None: epsilon for FGSM, 2.5 x
    epsilon / steps for PGD (at most epsilon). ``steps`` counts PGD steps (FGSM always takes
    one). ``target`` None: untargeted (any class but the original); else a class index to reach.
    """

    method: str = "pgd"
    norm: str = "linf"
    epsilon: float | None = None
    steps: int = DEFAULT_STEPS
    step_size: float | None = None
    target: int | None = None

    @property
    def epsilon_px(self) -> float:
        return float(DEFAULT_EPSILON[self.norm] if self.epsilon is None else self.epsilon)

    @property
    def total_steps(self) -> int:
        return 1 if self.method == "fgsm" else int(self.steps)

    @property
    def step_px(self) -> float:
        if self.step_size is not None:
            return float(self.step_size)
        if self.method == "fgsm":
            return self.epsilon_px
        return min(self.epsilon_px, PGD_STEP_SHARE * self.epsilon_px / self.total_steps)

    def check(self, max_steps: int = MAX_STEPS) -> None:
        """Raise VizcoreError (one sentence) for settings no attack can run with."""
        if self.method not in METHODS:
            raise VizcoreError(f"Unknown attack method {self.method!r}: choose one of {', '.join(METHODS)}.")
        if self.norm not in NORMS:
            raise VizcoreError(f"Unknown norm {self.norm!r}: choose one of {', '.join(NORMS)}.")
        epsilon, top = self.epsilon_px, MAX_EPSILON[self.norm]
        if not MIN_EPSILON <= epsilon <= top:
            raise VizcoreError(
                f"Epsilon under {NORM_TITLES[self.norm]} must be between {MIN_EPSILON:g} and {top:g} pixel levels, not {epsilon:g}."
            )
        if self.method == "pgd" and not 1 <= self.steps <= max_steps:
            raise VizcoreError(f"PGD steps must be between 1 and {max_steps}, not {self.steps}.")
        if not 0 < self.step_px <= epsilon:
            raise VizcoreError(f"The step size must be above 0 and at most epsilon ({epsilon:g}), not {self.step_px:g}.")

    def as_dict(self) -> dict:
        return {"method": self.method, "norm": self.norm, "epsilon": self.epsilon_px, "steps": self.total_steps,
                "step_size": self.step_px, "target": self.target}


@dataclass(frozen=True)
class ClassScore:
    class_index: int
    label: str
    probability: float

    def as_dict(self) -> dict:
        return {"class": self.class_index, "label": self.label, "probability": self.probability}


@dataclass(frozen=True)
class AttackProgress:
    step: int  # steps done so far
    steps: int  # steps asked for
    images: np.ndarray  # 1 x S x S x 3 uint8: the image after this step, rounded (not yet projected for saving)


@dataclass(frozen=True)
class Attack:
    """An attack's result; every array and number is of the saved PNG decoded again."""

    original: np.ndarray  # S x S x 3 uint8: the image as the model sees it
    adversarial: np.ndarray  # S x S x 3 uint8: the saved adversarial image
    png: bytes  # ``adversarial`` as the PNG file that was decoded
    original_probabilities: np.ndarray  # classes, float32 0..1
    adversarial_probabilities: np.ndarray
    original_class: ClassScore
    adversarial_class: ClassScore
    target: ClassScore | None  # the target class and its probability on the adversarial image; None: untargeted
    settings: AttackSettings = field(default_factory=AttackSettings)
    steps_done: int = 0
    stopped: bool = False
    seconds: float = 0.0

    @property
    def perturbation(self) -> np.ndarray:
        """adversarial - original, S x S x 3 int16 in pixel levels."""
        return self.adversarial.astype(np.int16) - self.original.astype(np.int16)

    @property
    def linf(self) -> float:
        return float(np.abs(self.perturbation).max())

    @property
    def l2(self) -> float:
        return float(np.sqrt(np.sum(self.perturbation.astype(np.int64) ** 2)))

    @property
    def success(self) -> bool:
        """Targeted: the saved image's top class is the target; untargeted: it is not the original class."""
        if self.target is not None:
            return self.adversarial_class.class_index == self.target.class_index
        return self.adversarial_class.class_index != self.original_class.class_index

    def summary(self) -> dict:
        """The JSON record: classes before and after, the target, the budget and the perturbation's size (px)."""
        return {
            "original": self.original_class.as_dict(),
            "adversarial": self.adversarial_class.as_dict(),
            "target": None if self.target is None else self.target.as_dict(),
            "method": self.settings.method,
            "norm": self.settings.norm,
            "epsilon": self.settings.epsilon_px,
            "step_size": self.settings.step_px,
            "linf": self.linf,
            "l2": round(self.l2, 4),
            "steps": self.steps_done,
            "stopped": self.stopped,
            "success": self.success,
            "seconds": round(self.seconds, 3),
        }


def attack_step(model, preprocessing, original, adversarial, label, direction, step_size, epsilon, l2):
    """One projected step on ``adversarial`` (N x S x S x 3, 0-255) within ``epsilon`` of ``original``.

    ``direction`` +1 climbs the cross-entropy of ``label`` (untargeted), -1 descends it (targeted).
    ``l2`` (a Python bool) picks the norm: L2 steps along the normalised gradient and projects
    onto the ball; L-infinity steps along its sign and clips. Returns the next image and the
    scores of the image this step started from.
    """
    with tf.GradientTape() as tape:
        tape.watch(adversarial)
        scores = model(preprocessing.to_model(adversarial), training=False)[SCORE]
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(label, scores))
    gradient = direction * tape.gradient(loss, adversarial)
    if l2:
        length = tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=(1, 2, 3), keepdims=True))
        delta = adversarial + step_size * gradient / (length + _TINY) - original
        delta_length = tf.sqrt(tf.reduce_sum(tf.square(delta), axis=(1, 2, 3), keepdims=True))
        delta *= tf.minimum(1.0, epsilon / (delta_length + _TINY))
    else:
        delta = tf.clip_by_value(adversarial + step_size * tf.sign(gradient) - original, -epsilon, epsilon)
    return tf.clip_by_value(original + delta, 0.0, 255.0), scores


def saved_pixels(original: np.ndarray, adversarial: np.ndarray, norm: str, epsilon: float) -> np.ndarray:
    """``adversarial`` (float, 0-255) rounded to uint8 with its change from ``original`` (uint8) within ``epsilon``.

    L-infinity: every rounded change clipped to floor(epsilon). L2: the change scaled into the
    ball and rounded to nearest; if that leaves the ball, the changes rounding lengthened most are
    rounded towards zero instead, just enough of them (truncating every change only shortens it,
    so this fits but for float rounding at the very edge, which the last loop takes off).
    """
    delta = np.clip(adversarial.astype(np.float64), 0.0, 255.0) - original.astype(np.float64)
    if norm == "linf":
        limit = math.floor(epsilon)
        change = np.clip(np.round(delta), -limit, limit)
    else:
        delta *= min(1.0, epsilon / max(float(np.sqrt(np.sum(delta**2))), _TINY))
        nearest, towards_zero = np.round(delta).ravel(), np.trunc(delta).ravel()
        saving = nearest**2 - towards_zero**2  # how much truncating each change shortens the squared length
        order = np.argsort(-saving, kind="stable")
        remaining = np.sum(nearest**2) - np.concatenate([[0.0], np.cumsum(saving[order])])
        fits = np.sqrt(np.maximum(remaining, 0.0)) <= epsilon
        count = int(np.argmax(fits)) if fits.any() else len(order)
        nearest[order[:count]] = towards_zero[order[:count]]
        while np.sqrt(np.sum(nearest**2)) > epsilon:
            largest = int(np.argmax(np.abs(nearest)))
            nearest[largest] -= np.sign(nearest[largest])
        change = nearest.reshape(delta.shape)
    return np.clip(original.astype(np.int16) + change.astype(np.int16), 0, 255).astype(np.uint8)


def _class_score(loaded: LoadedModel, probabilities: np.ndarray, class_index: int) -> ClassScore:
    names = loaded.class_names
    label = names[class_index] if class_index < len(names) else f"class {class_index}"
    return ClassScore(int(class_index), label, float(probabilities[class_index]))


def _top_class(loaded: LoadedModel, probabilities: np.ndarray) -> ClassScore:
    return _class_score(loaded, probabilities, int(np.argmax(probabilities)))


def attack(
    loaded: LoadedModel,
    pixels: np.ndarray,
    settings: AttackSettings = AttackSettings(),
    *,
    max_steps: int = MAX_STEPS,
    on_progress: Callable[[AttackProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> Attack:
    """Attack RGB uint8 ``pixels`` (any size; attacked as the model sees them, S x S) with ``settings``.

    ``on_progress`` gets every step with the image so far; ``should_stop`` is checked before
    every step, and so is ``max_seconds`` (wall time; None: no cap): either ends the run early
    with ``stopped`` set, keeping the steps done. Bad settings and a target equal to the
    original class raise VizcoreError with one sentence before any step.
    """
    settings.check(max_steps)
    original = fit_to_model(pixels, loaded.spec.input_size)
    original_probabilities = class_probabilities(loaded, original)
    original_class = _top_class(loaded, original_probabilities)
    classes = original_probabilities.shape[0]
    if settings.target is not None:
        if not 0 <= settings.target < classes:
            raise VizcoreError(f"The target class must be between 0 and {classes - 1}, not {settings.target}.")
        if settings.target == original_class.class_index:
            raise VizcoreError(f"The model already predicts {original_class.label} for this image: choose another target.")
    label = original_class.class_index if settings.target is None else settings.target
    view = loaded.derived.attribution()
    original_tensor = tf.constant(original[None], tf.float32)
    adversarial = original_tensor
    arguments = (
        tf.constant([label], tf.int32), tf.constant(1.0 if settings.target is None else -1.0),
        tf.constant(settings.step_px, tf.float32), tf.constant(settings.epsilon_px, tf.float32), settings.norm == "l2",
    )
    steps = settings.total_steps
    step, stopped = 0, False
    start = time.perf_counter()
    while step < steps:
        over_time = max_seconds is not None and time.perf_counter() - start >= max_seconds
        if over_time or (should_stop is not None and should_stop()):
            stopped = True
            break
        adversarial, _ = loaded.step(attack_step, loaded.spec.preprocessing, original_tensor, adversarial, *arguments,
                                     view=view)
        step += 1
        if on_progress is not None:
            on_progress(AttackProgress(step, steps, np.round(np.asarray(adversarial)).astype(np.uint8)))
    seconds = time.perf_counter() - start
    png = encode_png(saved_pixels(original, np.asarray(adversarial)[0], settings.norm, settings.epsilon_px))
    saved = decode_image(png)
    adversarial_probabilities = class_probabilities(loaded, saved)
    target = None if settings.target is None else _class_score(loaded, adversarial_probabilities, settings.target)
    return Attack(
        original=original,
        adversarial=saved,
        png=png,
        original_probabilities=original_probabilities,
        adversarial_probabilities=adversarial_probabilities,
        original_class=original_class,
        adversarial_class=_top_class(loaded, adversarial_probabilities),
        target=target,
        settings=settings,
        steps_done=step,
        stopped=stopped,
        seconds=seconds,
    )


def amplified_perturbation(attack_result: Attack) -> tuple[np.ndarray, int]:
    """The perturbation as a picture, S x S x 3 uint8: grey 128 is no change, each level times ``scale``.

    ``scale`` (returned) is the largest whole factor that keeps the largest change within 0-255.
    """
    change = attack_result.perturbation
    largest = int(np.abs(change).max())
    scale = max(1, 127 // largest) if largest else 1
    return np.clip(128 + change * scale, 0, 255).astype(np.uint8), scale
