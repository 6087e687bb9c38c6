"""Feature inversion (Mahendran & Vedaldi 2015): the image rebuilt from one layer's features alone.

For each chosen layer, an image is optimised from grey noise until its features on that layer
match those of the original, under image priors that keep it natural: the loop's Fourier
parameterisation (smooth colours), small random jitter and a total-variation penalty. Every
layer's reconstruction is one image of the same batch, rendered side by side by the shared
render loop in ``vizcore.optimize`` (one gradient computation per step for all of them). What a
reconstruction still shows is what that depth keeps of the image: shallow layers keep nearly
every pixel, deep ones the parts and layout that matter for the class. Images are RGB uint8.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.images import fit_to_model, to_uint8
from vizcore.limits import MAX_SECONDS, MAX_STEPS
from vizcore.models.layers import check_feature_map_layer
from vizcore.models.spec import LoadedModel
from vizcore.optimize import (
    TERM, FeatureDistance, FourierImage, Jitter, Progress, TermPerImage, TotalVariation, feature_target, layer_outputs,
    render,
)
from vizcore.optimize.targets import feature_distance

MIN_SIZE = 32
MAX_SIZE = 384  # the reconstructions' side in px: every layer's image is one of the batch
MAX_LAYERS = 8


@dataclass(frozen=True)
class InversionSettings:
    """Size is the square side in px (the image centre-cropped, as the model sees it); weights multiply 0..1 terms."""

    size: int = 128
    steps: int = 200
    learning_rate: float = 0.08
    tv_weight: float = 0.25  # total variation: higher is smoother
    jitter: int = 2  # random shift in px each step: patterns must not depend on exact positions
    decay: float = 1.0  # Fourier parameterisation: how strongly high frequencies are damped
    seed: int = 0

    def check(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise VizcoreError(f"Image size must be between {MIN_SIZE} and {MAX_SIZE} px, not {self.size}.")
        if not 1 <= self.steps <= MAX_STEPS:
            raise VizcoreError(f"Steps must be between 1 and {MAX_STEPS}, not {self.steps}.")
        if self.learning_rate <= 0 or self.tv_weight < 0 or self.jitter < 0 or self.decay < 0:
            raise VizcoreError("The learning rate must be above 0, and the weights, jitter and decay 0 or more.")


@dataclass(frozen=True)
class Inversion:
    original: np.ndarray  # size x size x 3 uint8: the image as it was inverted (centre-cropped, resized)
    layers: tuple[str, ...]
    images: np.ndarray  # one reconstruction per layer, N x size x size x 3 uint8
    feature_distance: np.ndarray  # N: each reconstruction's features from the original's, 1.0 is as far as all zeros
    initial_distance: np.ndarray  # N: the same for the grey-noise start
    correlation: np.ndarray  # N: Pearson correlation of each reconstruction's pixels with the original's
    settings: InversionSettings = field(default_factory=InversionSettings)
    steps_done: int = 0
    stopped: bool = False
    seconds: float = 0.0

    def summary(self) -> dict:
        return {
            "layers": [
                {"layer": layer, "feature_distance": float(distance), "correlation": float(correlation),
                 "initial_feature_distance": float(initial)}
                for layer, distance, correlation, initial in zip(
                    self.layers, self.feature_distance, self.correlation, self.initial_distance
                )
            ],
            "parameters": asdict(self.settings),
            "steps_done": self.steps_done,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


def default_layers(loaded: LoadedModel) -> tuple[str, ...]:
    """The layers inverted when none are chosen: the model's explorer presets, shallow to deep."""
    return tuple(loaded.spec.presets.explorer_layers)


def pixel_correlation(image: np.ndarray, original: np.ndarray) -> float:
    """Pearson correlation of two same-shape images' pixel values (all channels); 0 when either is flat."""
    first, second = image.astype(np.float64).ravel(), original.astype(np.float64).ravel()
    first, second = first - first.mean(), second - second.mean()
    spread = np.sqrt((first @ first) * (second @ second))
    return float(first @ second / spread) if spread > 0 else 0.0


def _objective(layers: tuple[str, ...], settings: InversionSettings):
    objective = -TermPerImage(tuple(FeatureDistance(layer) for layer in layers))
    if settings.tv_weight:
        objective = objective - settings.tv_weight * TotalVariation()
    return objective


def _distances(loaded: LoadedModel, layers: tuple[str, ...], images: np.ndarray, targets: dict) -> np.ndarray:
    """Each image's features on its own layer (image i, layer i) from the original's."""
    values = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    outputs = layer_outputs(loaded, layers, values)
    return np.array([
        feature_distance(outputs[layer][index], targets[feature_target(layer)]) for index, layer in enumerate(layers)
    ])


def invert_features(
    loaded: LoadedModel,
    pixels: np.ndarray,
    layers: tuple[str, ...] | list[str] | None = None,
    settings: InversionSettings = InversionSettings(),
    *,
    preview_every: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> Inversion:
    """Rebuild ``pixels`` (RGB uint8) from each of ``layers``' features (default: ``default_layers``), side by side.

    ``on_progress`` gets the reconstructions every ``preview_every`` steps; ``should_stop`` and
    ``max_seconds`` end the run before the next step, keeping what it has (``stopped``).
    """
    settings.check()
    layers = tuple(dict.fromkeys(layers or default_layers(loaded)))
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise VizcoreError(f"Choose between 1 and {MAX_LAYERS} layers to invert, not {len(layers)}.")
    for layer in layers:
        check_feature_map_layer(loaded, layer, "invert")
    original = fit_to_model(pixels, settings.size)
    outputs = layer_outputs(loaded, layers, original[None].astype(np.float32) / 255.0)
    targets = {feature_target(layer): outputs[layer][0] for layer in layers}
    result = render(
        loaded,
        _objective(layers, settings),
        FourierImage(settings.decay),
        batch=len(layers),
        size=settings.size,
        steps=settings.steps,
        learning_rate=settings.learning_rate,
        transforms=(Jitter(float(settings.jitter)),) if settings.jitter else (),
        seed=settings.seed,
        targets={**targets, TERM: np.arange(len(layers), dtype=np.int32)},
        preview_every=preview_every,
        on_progress=on_progress,
        should_stop=should_stop,
        max_seconds=max_seconds,
    )
    images = to_uint8(result.images)
    return Inversion(
        original=original,
        layers=layers,
        images=images,
        feature_distance=_distances(loaded, layers, images, targets),
        initial_distance=_distances(loaded, layers, result.initial_images, targets),
        correlation=np.array([pixel_correlation(image, original) for image in images]),
        settings=settings,
        steps_done=result.steps_done,
        stopped=result.stopped,
        seconds=result.seconds,
    )
