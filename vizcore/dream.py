"""DeepDream: amplify what chosen layers see in an image, over octaves, with tiled gradients.

The recipe of the TensorFlow tutorial, made interactive and bounded in memory: the image is
processed at ``octaves`` scales, smallest first; each step climbs the weighted mean activation
of the layers, with the gradient computed tile by tile on a randomly rolled image (so any size
fits in memory and tile seams do not show), normalised by its standard deviation. Images are
RGB uint8; the work happens in pixel units (0..255) and is clipped to that range every step.
A step (roll, tiled gradient, smoothing, normalisation, update) is one traced function and the
image stays a tensor through an octave: no per-step copies to numpy (or from a GPU and back).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import cv2
import numpy as np
import tensorflow as tf

from vizcore.errors import VizcoreError
from vizcore.limits import MAX_DREAM_PIXELS, MAX_SECONDS, MAX_STEPS
from vizcore.models.spec import LoadedModel
from vizcore.optimize import Progress
from vizcore.optimize.loop import feature_view, layer_outputs

MAX_PIXELS = MAX_DREAM_PIXELS  # of the largest octave (vizcore/limits.py; also per call)
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


def _weighted_tile_loss(model, preprocessing, tile_pixels, weights, positions):
    """Sum over layers of weight * (sum of the tile's activations / positions of the whole image).

    ``positions`` None means the tile is the whole image: its own feature maps give the counts.
    """
    features = model(tf.expand_dims(preprocessing.to_model(tile_pixels), 0), training=False)
    terms = []
    for name, value in features.items():
        count = tf.cast(tf.size(value), tf.float32) if positions is None else positions[name]
        terms.append(weights[name] * tf.reduce_sum(tf.cast(value, tf.float32)) / count)  # float16 under mixed precision
    return tf.add_n(terms)


def _rolled_tiled_gradient(model, preprocessing, image, shift, weights, positions, tile, single_tile):
    """Graph code: the gradient of the tiled loss for ``image`` rolled by ``shift``, rolled back.

    ``single_tile`` (a Python bool: the image fits in one tile) skips the tile loop and its slicing,
    and ``positions`` (the whole image's feature-map sizes) may then be None.
    """
    rolled = tf.roll(image, shift, axis=(0, 1))
    if single_tile:
        with tf.GradientTape() as tape:
            tape.watch(rolled)
            loss = _weighted_tile_loss(model, preprocessing, rolled, weights, None)
        return tf.roll(tape.gradient(loss, rolled), -shift, axis=(0, 1))
    height, width = tf.shape(rolled)[0], tf.shape(rolled)[1]
    gradient = tf.zeros_like(rolled)
    for top in tf.range(0, height, tile):
        for left in tf.range(0, width, tile):
            with tf.GradientTape() as tape:
                tape.watch(rolled)
                window = rolled[top : top + tile, left : left + tile]
                loss = _weighted_tile_loss(model, preprocessing, window, weights, positions)
            gradient += tape.gradient(loss, rolled)
    return tf.roll(gradient, -shift, axis=(0, 1))


def _tiled_gradient(model, preprocessing, image, shift, weights, positions, tile, single_tile):
    return _rolled_tiled_gradient(model, preprocessing, image, shift, weights, positions, tile, single_tile)


def _blurred(gradient, kernel):
    """``gradient`` (H x W x 3) convolved with the separable 1-D ``kernel``, edges reflected as OpenCV does."""
    radius = tf.shape(kernel)[0] // 2
    padded = tf.expand_dims(tf.pad(gradient, [[radius, radius], [radius, radius], [0, 0]], mode="REFLECT"), 0)
    down = tf.tile(tf.reshape(kernel, (-1, 1, 1, 1)), (1, 1, 3, 1))
    across = tf.tile(tf.reshape(kernel, (1, -1, 1, 1)), (1, 1, 3, 1))
    blurred = tf.nn.depthwise_conv2d(padded, down, strides=(1, 1, 1, 1), padding="VALID")
    return tf.squeeze(tf.nn.depthwise_conv2d(blurred, across, strides=(1, 1, 1, 1), padding="VALID"), 0)


def dream_step(model, preprocessing, image, shift, weights, positions, tile, single_tile, step_pixels, blur_kernel):
    """One DeepDream step on ``image`` (H x W x 3, 0..255), all on the device: the next image."""
    gradient = _rolled_tiled_gradient(model, preprocessing, image, shift, weights, positions, tile, single_tile)
    if blur_kernel is not None:
        gradient = _blurred(gradient, blur_kernel)
    gradient /= tf.math.reduce_std(gradient) + 1e-8
    return tf.clip_by_value(image + step_pixels * gradient, 0.0, 255.0)


def _positions(model, height: int, width: int) -> dict:
    """Feature-map positions per layer for a whole H x W image (to normalise per-tile sums)."""
    import keras

    probe = model.compute_output_spec(keras.KerasTensor((1, height, width, 3)))
    return {name: tf.constant(float(max(1, (spec.shape[1] or 1) * (spec.shape[2] or 1) * spec.shape[3])))
            for name, spec in probe.items()}


def _weight_tensors(layers: dict) -> dict:
    return {name: tf.constant(float(weight)) for name, weight in layers.items()}


def _gaussian_kernel(sigma: float, longest_radius: int) -> np.ndarray | None:
    """OpenCV's 1-D Gaussian for ``sigma`` px (as ``cv2.GaussianBlur(x, (0, 0), sigma)`` uses), None for 0.

    The radius is cut to ``longest_radius`` (and the kernel renormalised) so reflection at the
    edges stays within the image; only tiny images with strong smoothing are affected.
    """
    if sigma <= 0:
        return None
    size = int(round(sigma * 8 + 1)) | 1
    kernel = cv2.getGaussianKernel(size, sigma).astype(np.float32)[:, 0]
    radius = min(size // 2, max(longest_radius, 0))
    kernel = kernel[size // 2 - radius : size // 2 + radius + 1]
    return kernel / kernel.sum()


def tiled_gradient(
    loaded: LoadedModel, image: np.ndarray, layers: dict, tile: int = TILE, shift: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """d(weighted mean activation)/d(pixels) for an H x W x 3 float image (0..255), ``tile`` px at a time.

    The image is rolled by ``shift`` before tiling and the gradient rolled back, so tile seams
    move from step to step. With one tile covering the image it is the plain gradient.
    """
    view = feature_view(loaded, tuple(layers))
    height, width = image.shape[:2]
    single_tile = height <= tile and width <= tile
    positions = None if single_tile else _positions(view.model, height, width)
    gradient = loaded.call(
        _tiled_gradient, loaded.spec.preprocessing, tf.constant(image, tf.float32), tf.constant(shift, tf.int32),
        _weight_tensors(layers), positions, tf.constant(int(tile)), single_tile, view=view,
    )
    return np.asarray(gradient)


def mean_activations(loaded: LoadedModel, pixels: np.ndarray, layers: dict) -> dict:
    """Layer name -> mean activation for RGB uint8 ``pixels`` (one traced forward pass)."""
    outputs = layer_outputs(loaded, tuple(layers), pixels.astype(np.float32)[None] / 255.0)
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
    max_seconds: float | None = MAX_SECONDS,
    preview_every: int = 0,
) -> Dream:
    """Dream on RGB uint8 ``pixels`` with ``layers`` ({name: weight}; default: the model's dream preset).

    ``on_progress`` gets every step, with the image after each octave (and every ``preview_every``
    steps when above 0: an animation's frames, vizcore/animation.py); ``should_stop`` is checked
    before every step, and so is ``max_seconds`` (wall time since the first step; None: no cap):
    either ends the run early with ``stopped`` set. Requests over ``max_pixels`` or ``max_steps``
    are refused with a sentence.
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
    view = feature_view(loaded, tuple(layers))  # unknown or flat layers fail here, before any work
    rng = np.random.default_rng(settings.seed)
    weights = _weight_tensors(layers)
    tile = tf.constant(settings.tile)
    step_pixels = tf.constant(settings.step_size * 255.0)
    image = pixels.astype(np.float32)
    step, stopped = 0, False
    start = time.perf_counter()
    for octave_height, octave_width in octave_shapes(height, width, settings.octaves, settings.octave_scale):
        image = tf.constant(cv2.resize(np.asarray(image), (octave_width, octave_height), interpolation=cv2.INTER_CUBIC))
        single_tile = octave_height <= settings.tile and octave_width <= settings.tile
        positions = None if single_tile else _positions(view.model, octave_height, octave_width)
        kernel = _gaussian_kernel(settings.smoothing, min(octave_height, octave_width) - 1)
        blur_kernel = None if kernel is None else tf.constant(kernel)
        for _ in range(settings.steps_per_octave):
            over_time = max_seconds is not None and time.perf_counter() - start >= max_seconds
            if over_time or (should_stop is not None and should_stop()):
                stopped = True
                break
            shift = (int(rng.integers(-settings.tile // 2, settings.tile // 2 + 1)),
                     int(rng.integers(-settings.tile // 2, settings.tile // 2 + 1)))
            image = loaded.step(dream_step, loaded.spec.preprocessing, image, tf.constant(shift, tf.int32), weights,
                                positions, tile, single_tile, step_pixels, blur_kernel, view=view)
            step += 1
            if on_progress is not None:
                shown = (step == 1 or step % settings.steps_per_octave == 0  # a first look within one step
                         or (preview_every > 0 and step % preview_every == 0))
                preview = np.round(np.asarray(image)).astype(np.uint8) if shown else None
                on_progress(Progress(step, settings.total_steps, np.zeros(1, np.float32), preview))
        if stopped:
            break
    image = np.asarray(image)
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
