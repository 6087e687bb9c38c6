"""Neural style transfer (Gatys et al.): the content image repainted with the textures of one or more style images.

The styled image is optimised by the shared render loop in ``vizcore.optimize`` against three
terms: its Gram matrices on the style layers (the style), its features on the content layer
(the content) and its total variation (smoothness). Distances are scale-free, so the same weights
work for every model. Images are RGB uint8.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.images import to_uint8
from vizcore.models.spec import LoadedModel
from vizcore.optimize import (  # noqa: F401  (gram_target, feature_target: the names of the targets, for callers)
    FeatureDistance, GramDistance, PixelImage, Progress, TotalVariation, feature_target, gram_target, layer_outputs,
    pixel_parameters, render,
)
from vizcore.limits import MAX_SECONDS, MAX_STEPS
from vizcore.optimize.targets import blended_grams, feature_distance, gram_distance, resized

MIN_SIZE = 64
MAX_SIZE = 768  # output's longer side: bounds memory and time on a CPU
MAX_STYLES = 4
STARTS = ("content", "noise")


@dataclass(frozen=True)
class StyleSettings:
    """Output size is the longer side in px; strength multiplies the style term against the content term."""

    size: int = 256
    steps: int = 200
    learning_rate: float = 0.05
    style_strength: float = 5.0
    content_weight: float = 1.0
    tv_weight: float = 2.0
    start: str = "content"
    seed: int = 0

    def check(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise VizcoreError(f"Output size must be between {MIN_SIZE} and {MAX_SIZE} px, not {self.size}.")
        if not 1 <= self.steps <= MAX_STEPS:
            raise VizcoreError(f"Steps must be between 1 and {MAX_STEPS}, not {self.steps}.")
        if self.start not in STARTS:
            raise VizcoreError(f"Start must be one of {', '.join(STARTS)}, not {self.start!r}.")
        if self.learning_rate <= 0 or self.style_strength < 0 or self.content_weight < 0 or self.tv_weight < 0:
            raise VizcoreError("The learning rate must be above 0 and the weights 0 or more.")


@dataclass(frozen=True)
class StyledImage:
    image: np.ndarray  # H x W x 3 uint8
    content_loss: float  # scale-free distances of the final image, before weighting
    style_loss: float
    tv_loss: float
    style_layers: tuple[str, ...]
    content_layer: str
    settings: StyleSettings = field(default_factory=StyleSettings)
    style_weights: tuple[float, ...] = ()
    steps_done: int = 0
    stopped: bool = False
    seconds: float = 0.0

    def summary(self) -> dict:
        return {
            "content_loss": self.content_loss,
            "style_loss": self.style_loss,
            "tv_loss": self.tv_loss,
            "style_layers": list(self.style_layers),
            "content_layer": self.content_layer,
            "style_weights": list(self.style_weights),
            "parameters": asdict(self.settings),
            "steps_done": self.steps_done,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


def _objective(layers: tuple[str, ...], content_layer: str, settings: StyleSettings):
    style = GramDistance(layers[0])
    for layer in layers[1:]:
        style = style + GramDistance(layer)
    style = style * (settings.style_strength / len(layers))
    objective = -style - settings.content_weight * FeatureDistance(content_layer)
    if settings.tv_weight:
        objective = objective - settings.tv_weight * TotalVariation()
    return objective


def transfer_style(
    loaded: LoadedModel,
    content: np.ndarray,
    styles: list[np.ndarray],
    style_weights: list[float] | None = None,
    settings: StyleSettings = StyleSettings(),
    *,
    style_layers: tuple[str, ...] | None = None,
    content_layer: str | None = None,
    preview_every: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> StyledImage:
    """``content`` (RGB uint8) repainted in the blended style of ``styles`` (weights default to equal).

    ``should_stop`` is checked before every step; a run that has taken ``max_seconds`` of wall
    time (None: no cap) stops the same way, with ``stopped`` set on the result.
    """
    settings.check()
    if not 1 <= len(styles) <= MAX_STYLES:
        raise VizcoreError(f"Give between 1 and {MAX_STYLES} style images, not {len(styles)}.")
    style_weights = list(style_weights) if style_weights is not None else [1.0] * len(styles)
    if len(style_weights) != len(styles) or min(style_weights) < 0 or sum(style_weights) <= 0:
        raise VizcoreError("Give one weight of 0 or more per style image, with at least one above 0.")
    style_layers = tuple(style_layers or loaded.spec.presets.style_layers)
    content_layer = content_layer or loaded.spec.presets.content_layer
    layers = tuple(dict.fromkeys((*style_layers, content_layer)))
    target = resized(content, settings.size)
    targets = {gram_target(layer): gram for layer, gram in blended_grams(loaded, styles, style_weights, style_layers, settings.size).items()}
    targets[feature_target(content_layer)] = layer_outputs(loaded, layers, target[None])[content_layer][0]
    if settings.start == "content":
        start = target[None]
    else:
        start = np.random.default_rng(settings.seed).uniform(0.25, 0.75, target[None].shape).astype(np.float32)
    result = render(
        loaded,
        _objective(style_layers, content_layer, settings),
        PixelImage(),
        batch=1,
        size=target.shape[0],
        steps=settings.steps,
        learning_rate=settings.learning_rate,
        transforms=(),
        seed=settings.seed,
        targets=targets,
        preview_every=preview_every,
        on_progress=on_progress,
        should_stop=should_stop,
        max_seconds=max_seconds,
        initial_parameters=pixel_parameters(start),
    )
    image = to_uint8(result.images[0])
    content_loss, style_loss, tv_loss = style_distances(loaded, image, targets, style_layers, content_layer)
    return StyledImage(
        image=image, content_loss=content_loss, style_loss=style_loss, tv_loss=tv_loss, style_layers=style_layers,
        content_layer=content_layer, settings=settings, style_weights=tuple(style_weights),
        steps_done=result.steps_done, stopped=result.stopped, seconds=result.seconds,
    )


def style_distances(loaded: LoadedModel, image: np.ndarray, targets: dict, style_layers, content_layer):
    """(content, style, total variation) distances of uint8 ``image`` from the targets, as the loop measures them."""
    values = image.astype(np.float32)[None] / 255.0
    outputs = layer_outputs(loaded, tuple(dict.fromkeys((*style_layers, content_layer))), values)
    style = sum(gram_distance(outputs[layer][0], targets[gram_target(layer)]) for layer in style_layers)
    content = feature_distance(outputs[content_layer][0], targets[feature_target(content_layer)])
    tv = float(np.abs(np.diff(values, axis=1)).mean() + np.abs(np.diff(values, axis=2)).mean())
    return content, style / len(style_layers), tv
