"""DeepDream: amplify what chosen layers see in an image, over octaves, with tiled gradients.

The recipe of the TensorFlow tutorial, made interactive and bounded in memory: the image is
processed at ``octaves`` scales, smallest first; each step climbs the weighted mean activation
of the layers, with the gradient computed tile by tile on a randomly rolled image (so any size
fits in memory and tile seams do not show), normalised by its standard deviation. Images are
RGB uint8; the work happens in pixel units (0..255) and is clipped to that range every step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import cv2
import numpy as np
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.models.spec import LoadedModel
from vizcore.optimize import Progress
from vizcore.optimize.loop import feature_model

MAX_PIXELS = 1024 * 1024  # of the largest octave: bounds time on a CPU (configurable per call)
MAX_STEPS = 2000  # over all octaves
MAX_OCTAVES = 8
TILE = 512


@dataclass(frozen=True)
class DreamSettings:
    """``step_size`` is a share of the 0..255 range per step; ``smoothing`` blurs the gradient (px sigma)."""

    octaves: int = 4
    octave_scale: float = 1.3
    steps_per_octave: int = 10
    step_size: float = 0.005
    tile: int = TILE
    smoothing: float = 1.0
    seed: int = 0

    @property
    def total_steps(self) -> int:
        return self.octaves * self.steps_per_octave

    def check(self, max_steps: int = MAX_STEPS) -> None:
        if not 1 <= self.octaves <= MAX_OCTAVES:
            raise VizcoreError(f"Octaves must be between 1 and {MAX_OCTAVES}, not {self.octaves}.")
        if not 1.0 < self.octave_scale <= 2.0:
            raise VizcoreError(f"The octave scale must be above 1 and at most 2, not {self.octave_scale}.")
        if self.steps_per_octave < 1 or self.total_steps > max_steps:
            raise VizcoreError(f"A dream may take at most {max_steps} steps in all; this asks for {self.total_steps}.")
        if not 0 < self.step_size <= 0.2 or self.smoothing < 0 or self.tile < 64:
            raise VizcoreError("The step size must be above 0 and at most 0.2, smoothing 0 or more, tiles 64 px or more.")


@dataclass(frozen=True)
class Dream:
    image: np.ndarray  # H x W x 3 uint8, the input's size
    layers: dict  # layer name -> weight
    input_activation: dict  # layer name -> mean activation on the input
    dream_activation: dict  # layer name -> mean activation on the dream
    settings: DreamSettings = field(default_factory=DreamSettings)
    steps_done: int = 0
    stopped: bool = False
    seconds: float = 0.0

    def summary(self) -> dict:
        return {
            "layers": self.layers,
            "input_activation": self.input_activation,
            "dream_activation": self.dream_activation,
            "parameters": asdict(self.settings),
            "steps_done": self.steps_done,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


def octave_shapes(height: int, width: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """(height, width) per octave, smallest first, the last one the image's own size."""
    return [
        (max(16, round(height / scale**power)), max(16, round(width / scale**power)))
        for power in range(octaves - 1, -1, -1)
    ]


@tf.function(reduce_retracing=True)
def _tile_gradient(model, preprocessing, tile, weights, positions):
    """Gradient of sum over layers of weight * (sum of activations / positions of the whole image)."""
    with tf.GradientTape() as tape:
        tape.watch(tile)
        features = model(preprocessing.to_model(tile)[None], training=False)
        loss = tf.add_n([weights[name] * tf.reduce_sum(value) / positions[name] for name, value in features.items()])
    return tape.gradient(loss, tile)


def _positions(model, height: int, width: int) -> dict:
    """Feature-map positions per layer for a whole H x W image (to normalise per-tile sums)."""
    import keras

    probe = model.compute_output_spec(keras.KerasTensor((1, height, width, 3)))
    return {name: tf.constant(float(max(1, (spec.shape[1] or 1) * (spec.shape[2] or 1) * spec.shape[3])))
            for name, spec in probe.items()}


def tiled_gradient(
    loaded: LoadedModel, image: np.ndarray, layers: dict, tile: int = TILE, shift: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """d(weighted mean activation)/d(pixels) for an H x W x 3 float image (0..255), ``tile`` px at a time.

    The image is rolled by ``shift`` before tiling and the gradient rolled back, so tile seams
    move from step to step. With one tile covering the image it is the plain gradient.
    """
    model = feature_model(loaded, tuple(layers))
    height, width = image.shape[:2]
    rolled = np.roll(image, shift, axis=(0, 1))
    weights = {name: tf.constant(float(weight)) for name, weight in layers.items()}
    positions = _positions(model, height, width)
    gradient = np.zeros_like(rolled)
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            window = tf.constant(rolled[top : top + tile, left : left + tile], tf.float32)
            with loaded.lock:
                part = _tile_gradient(model, loaded.spec.preprocessing, window, weights, positions)
            gradient[top : top + tile, left : left + tile] = np.asarray(part)
    return np.roll(gradient, (-shift[0], -shift[1]), axis=(0, 1))


def mean_activations(loaded: LoadedModel, pixels: np.ndarray, layers: dict) -> dict:
    model = feature_model(loaded, tuple(layers))
    batch = np.asarray(loaded.spec.preprocessing.to_model(pixels.astype(np.float32)), np.float32)[None]
    with loaded.lock:
        outputs = model(batch, training=False)
    return {name: float(np.mean(value)) for name, value in outputs.items()}


def deep_dream(
    loaded: LoadedModel,
    pixels: np.ndarray,
    layers: dict | None = None,
    settings: DreamSettings = DreamSettings(),
    *,
    max_pixels: int = MAX_PIXELS,
    max_steps: int = MAX_STEPS,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Dream:
    """Dream on RGB uint8 ``pixels`` with ``layers`` ({name: weight}; default: the model's dream preset).

    ``on_progress`` gets every step, with the image after each octave; ``should_stop`` is checked
    before every step. Requests over ``max_pixels`` or ``max_steps`` are refused with a sentence.
    """
    import time

    settings.check(max_steps)
    layers = dict(layers or loaded.spec.presets.dream_layers)
    if not layers or any(weight < 0 for weight in layers.values()) or sum(layers.values()) <= 0:
        raise VizcoreError("Choose at least one layer with a weight above 0.")
    height, width = pixels.shape[:2]
    if height * width > max_pixels:
        raise VizcoreError(
            f"The image has {height * width / 1e6:.1f} megapixels; dreams are capped at {max_pixels / 1e6:.1f}: use a smaller image."
        )
    feature_model(loaded, tuple(layers))  # unknown or flat layers fail here, before any work
    rng = np.random.default_rng(settings.seed)
    image = pixels.astype(np.float32)
    step, stopped = 0, False
    start = time.perf_counter()
    for octave, (octave_height, octave_width) in enumerate(octave_shapes(height, width, settings.octaves, settings.octave_scale)):
        image = cv2.resize(image, (octave_width, octave_height), interpolation=cv2.INTER_CUBIC)
        for _ in range(settings.steps_per_octave):
            if should_stop is not None and should_stop():
                stopped = True
                break
            shift = (int(rng.integers(-settings.tile // 2, settings.tile // 2 + 1)),
                     int(rng.integers(-settings.tile // 2, settings.tile // 2 + 1)))
            gradient = tiled_gradient(loaded, image, layers, settings.tile, shift)
            if settings.smoothing > 0:
                gradient = cv2.GaussianBlur(gradient, (0, 0), settings.smoothing)
            gradient /= gradient.std() + 1e-8
            image = np.clip(image + settings.step_size * 255.0 * gradient, 0.0, 255.0)
            step += 1
            if on_progress is not None:
                octave_done = step % settings.steps_per_octave == 0
                preview = np.round(image).astype(np.uint8) if octave_done else None
                on_progress(Progress(step, settings.total_steps, np.zeros(1, np.float32), preview))
        if stopped:
            break
    seconds = time.perf_counter() - start
    dreamed = np.round(cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 255)).astype(np.uint8)
    return Dream(
        image=dreamed,
        layers=layers,
        input_activation=mean_activations(loaded, pixels, layers),
        dream_activation=mean_activations(loaded, dreamed, layers),
        settings=settings,
        steps_done=step,
        stopped=stopped,
        seconds=seconds,
    )
