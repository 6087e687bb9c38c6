"""The one render loop: optimise a batch of images against an objective.

Filter gallery, DeepDream and style transfer differ only in objective, parameterisation and
transforms. Each step runs one traced function, defined once here, that renders the images,
applies the transforms, reads the layers the objective needs and takes an Adam step on the
parameters: one gradient computation for the whole batch. The step is pure (parameters and
Adam moments go in and come out as tensors), so no variables or optimiser objects are created
per run and a new run with the same settings reuses the trace.

A run may go through stages (``Stage``): for example first at half size on one tile of a
periodic image, where a step costs about a third, then at full size from that image repeated
2 x 2. Each stage size is one input shape of the traced step, so a recipe with a fixed list
of tiles adds a fixed number of traces, never one per run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.limits import MAX_SECONDS
from vizcore.models.derived import View
from vizcore.models.graph import SCORE
from vizcore.models.layers import check_feature_map_layer
from vizcore.models.spec import LoadedModel
from vizcore.optimize.objectives import Context, Objective
from vizcore.optimize.transforms import STANDARD_TRANSFORMS, apply_transforms

ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPSILON = 1e-8
# tf.function keys Python arguments by weak reference, so an equal objective built anew for every
# run would retrace: runs use the first equal instance, kept alive here (one per distinct setting).
_canonical_settings: dict = {}
_canonical_lock = threading.Lock()


def _canonical(setting):
    with _canonical_lock:
        return _canonical_settings.setdefault(setting, setting)


def feature_view(loaded: LoadedModel, layers: tuple[str, ...]) -> View:
    """The model up to ``layers`` for the optimisation loops: images of any size in, ``{layer: map}`` out.

    A view of the model's any-size copy with folded batch norms (same outputs, a faster step),
    kept by ``loaded.derived``; nothing about the shared model changes. A model that cannot be
    copied this way (rare) is read at its fixed input size. ``SCORE`` ("score") names the class
    scores before the softmax, B x classes.
    """
    for name in layers:
        if name != SCORE:
            check_feature_map_layer(loaded, name, "optimise")
    return loaded.derived.features(tuple(layers))


def feature_model(loaded: LoadedModel, layers: tuple[str, ...]) -> keras.Model:
    """The Keras model of ``feature_view``: for its input and output shapes."""
    return feature_view(loaded, layers).model


def ascent_step(
    model, preprocessing, objective, parameterization, transforms,
    parameters, first_moment, second_moment, step, seed, learning_rate, targets,
):
    with tf.GradientTape() as tape:
        tape.watch(parameters)
        images = parameterization.to_rgb(parameters)
        moved = apply_transforms(images, transforms, tf.stack([seed, step]))
        features = model(preprocessing.to_model(moved * 255.0), training=False)
        scores = objective(Context(features, images, targets))
        total = tf.reduce_sum(scores)
    gradient = tape.gradient(total, parameters)
    first_moment = ADAM_BETA1 * first_moment + (1.0 - ADAM_BETA1) * gradient
    second_moment = ADAM_BETA2 * second_moment + (1.0 - ADAM_BETA2) * tf.square(gradient)
    # The count runs on across stages while the moments restart at zero, so by a later stage the
    # bias correction is about 1 and that stage's first steps are several times larger than a
    # fresh Adam's; its warm-up ramp tames them. bench/filters.py measured this schedule.
    count = tf.cast(step, tf.float32) + 1.0
    corrected_first = first_moment / (1.0 - ADAM_BETA1**count)
    corrected_second = second_moment / (1.0 - ADAM_BETA2**count)
    parameters = parameters + learning_rate * corrected_first / (tf.sqrt(corrected_second) + ADAM_EPSILON)
    return parameters, first_moment, second_moment, scores


@dataclass(frozen=True)
class Stage:
    """A run of ``steps`` steps at one resolution, with its own transforms and learning-rate ramp.

    ``tile`` > 1 optimises one tile of size / ``tile`` px of an image that repeats ``tile`` x ``tile``
    times (a step costs about 1 / ``tile`` squared of the network's work; patterns keep their pixel
    scale); the next stage goes on from that image repeated to its own size. Adam's moments
    restart at every stage (its parameters are new numbers) and the learning rate (the render's
    times ``rate``) ramps up linearly over the stage's first ``warm_up`` steps.
    """

    steps: int
    tile: int = 1
    transforms: tuple = STANDARD_TRANSFORMS
    rate: float = 1.0
    warm_up: int = 0

    def learning_rate(self, base: float, step_in_stage: int) -> float:
        ramp = min(1.0, (step_in_stage + 1) / self.warm_up) if self.warm_up else 1.0
        return base * self.rate * ramp


@dataclass(frozen=True)
class Progress:
    step: int  # steps done so far
    steps: int  # steps asked for
    scores: np.ndarray  # the objective per image at the last step
    images: np.ndarray | None  # B x H x W x 3 in 0..1 on preview steps, else None


@dataclass(frozen=True)
class RenderResult:
    images: np.ndarray  # B x H x W x 3 float32, RGB 0..1
    initial_images: np.ndarray  # the same before the first step
    scores: np.ndarray  # the objective per image at the last step (under the transforms)
    steps_done: int
    stopped: bool  # True when should_stop ended the run early
    seconds: float


def render(
    loaded: LoadedModel,
    objective: Objective,
    parameterization,
    *,
    batch: int,
    size: int,
    steps: int = 0,
    learning_rate: float = 0.05,
    transforms: tuple = STANDARD_TRANSFORMS,
    stages: tuple[Stage, ...] = (),
    seed: int = 0,
    targets: dict | None = None,
    preview_every: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    initial_parameters: np.ndarray | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> RenderResult:
    """Run Adam steps of gradient ascent on ``objective`` for ``batch`` images of ``size`` px.

    The steps are ``stages`` in order, or without them ``steps`` steps at full size with
    ``transforms``. ``on_progress`` is called after every step (with the full-size images every
    ``preview_every`` steps and after the last), and ``should_stop`` before every step, so a
    caller can show live previews and end the run within one step; a run that has taken
    ``max_seconds`` (wall time; None: no cap) stops the same way. The model is held for one
    step at a time, behind any quick request waiting for it (``LoadedModel.step``).
    ``initial_parameters`` starts from given parameters (e.g. an image) instead of the
    parameterisation's random start, at the first stage's size; ``batch`` and ``size`` are then
    taken from them.
    """
    stages = tuple(stages) or (Stage(steps, transforms=transforms),)
    view = feature_view(loaded, objective.layers)
    objective, parameterization = _canonical(objective), _canonical(parameterization)
    _check_stages(stages, size, view.model.inputs[0].shape[1])
    total_steps = sum(stage.steps for stage in stages)
    tile = stages[0].tile
    if initial_parameters is None:
        initial_parameters = parameterization.initial(batch, size // tile, np.random.default_rng(seed))
    parameters = tf.constant(initial_parameters, tf.float32)
    batch = int(parameters.shape[-4]) if len(parameters.shape) == 4 else batch
    tensor_targets = {name: tf.constant(value) for name, value in (targets or {}).items()}
    seed_tensor = tf.constant(seed, tf.int32)
    initial_images = _full_size(parameterization, parameters, tile)
    scores = np.zeros(batch, np.float32)
    start = time.perf_counter()
    step = 0
    stopped = False
    for stage in stages:
        if stage.tile != tile:
            parameters = tf.constant(parameterization.tiled(np.asarray(parameters), tile // stage.tile))
            tile = stage.tile
        first_moment = tf.zeros_like(parameters)
        second_moment = tf.zeros_like(parameters)
        transforms = _canonical(stage.transforms)
        for step_in_stage in range(stage.steps):
            over_time = max_seconds is not None and time.perf_counter() - start >= max_seconds
            if over_time or (should_stop is not None and should_stop()):
                stopped = True
                break
            rate = tf.constant(stage.learning_rate(learning_rate, step_in_stage), tf.float32)
            parameters, first_moment, second_moment, step_scores = loaded.step(
                ascent_step, loaded.spec.preprocessing, objective, parameterization, transforms,
                parameters, first_moment, second_moment, tf.constant(step, tf.int32), seed_tensor, rate, tensor_targets,
                view=view,
            )
            step += 1
            scores = np.asarray(step_scores)
            if on_progress is not None:
                # the first step previews too, so a page shows something within one step
                preview = step in (1, total_steps) or (preview_every > 0 and step % preview_every == 0)
                images = _full_size(parameterization, parameters, tile) if preview else None
                on_progress(Progress(step, total_steps, scores, images))
        if stopped:
            break
    return RenderResult(
        images=_full_size(parameterization, parameters, tile),
        initial_images=initial_images,
        scores=scores,
        steps_done=step,
        stopped=stopped,
        seconds=time.perf_counter() - start,
    )


def _check_stages(stages: tuple[Stage, ...], size: int, fixed_size: int | None) -> None:
    if fixed_size is not None and (fixed_size != size or any(stage.tile != 1 for stage in stages)):
        raise VizcoreError(f"This model only accepts {fixed_size} px images: set the image size to {fixed_size}.")
    for previous, stage in zip(stages, stages[1:]):
        if previous.tile % stage.tile:
            raise VizcoreError(f"A stage of tile {stage.tile} cannot follow one of tile {previous.tile}: tiles must divide.")
    for stage in stages:
        if stage.tile < 1 or size % stage.tile:
            raise VizcoreError(f"A {size} px image cannot be split into {stage.tile} x {stage.tile} tiles.")


def _full_size(parameterization, parameters: tf.Tensor, tile: int) -> np.ndarray:
    """The images the parameters stand for at full size: the tile repeated ``tile`` x ``tile`` times."""
    images = np.asarray(parameterization.to_rgb(parameters))
    return images if tile == 1 else np.tile(images, (1, tile, tile, 1))


def layer_outputs(loaded: LoadedModel, layers: tuple[str, ...], images: np.ndarray) -> dict[str, np.ndarray]:
    """The ``layers``' outputs for ``images`` (B x H x W x 3, RGB 0..1, any size), no transforms."""
    batch = tf.constant(np.asarray(loaded.spec.preprocessing.to_model(images * 255.0), np.float32))
    model = feature_view(loaded, layers).model
    # Eager, not traced: a run reads layers once or twice, and TensorFlow never frees the memory
    # of a trace (about 2 MB for EfficientNet-Lite0), so a trace per layer set would only cost.
    with loaded.lock:
        outputs = model(batch, training=False)
    return {name: np.asarray(value) for name, value in outputs.items()}
