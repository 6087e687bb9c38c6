"""Texture synthesis (Gatys et al. 2015): a new texture of any size from a texture image, from noise.

A texture is described by its Gram matrices (which channels fire together, averaged over every
position) on several layers; an image of the asked size is optimised from grey noise by the
shared render loop in ``vizcore.optimize`` until its own Gram matrices match. Position is
averaged away, so the result has the texture's look without copying its layout. The Gram
targets and distances are style transfer's (``vizcore.optimize.targets``). Images are RGB uint8.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.images import to_uint8
from vizcore.limits import MAX_SECONDS, MAX_STEPS
from vizcore.models.layers import check_feature_map_layer
from vizcore.models.spec import LoadedModel
from vizcore.optimize import (
    FourierImage, GramDistance, Jitter, Progress, TotalVariation, gram_target, layer_outputs, render,
)
from vizcore.optimize.targets import blended_grams, gram_distance

MIN_SIZE = 32
MAX_SIZE = 768  # the new texture's side in px: bounds memory and time on a CPU
MAX_SOURCE_SIZE = 768


@dataclass(frozen=True)
class TextureSettings:
    """``size``: the new texture's side in px (square); ``source_size``: the texture image's longer side as it is read.

    Patterns keep the pixel scale they have in the texture image read at ``source_size``, so a
    larger ``size`` gives more of them, not larger ones.
    """

    size: int = 256
    source_size: int = 256
    steps: int = 200
    learning_rate: float = 0.03
    tv_weight: float = 0.0  # total variation: higher is smoother
    jitter: int = 4  # random shift in px each step, against seams and fixed-position artefacts
    # Fourier parameterisation: how strongly high frequencies are damped. At 1.0 (and learning rate
    # 0.05) large blobs of a colour the texture lacks appeared (teal on chelsea and coffee); 1.5 at
    # 0.03 keeps the texture's colours and ends at a lower Gram distance (0.071 against 0.088, chelsea).
    decay: float = 1.5
    seed: int = 0

    def check(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise VizcoreError(f"Texture size must be between {MIN_SIZE} and {MAX_SIZE} px, not {self.size}.")
        if not MIN_SIZE <= self.source_size <= MAX_SOURCE_SIZE:
            raise VizcoreError(
                f"The texture image's size must be between {MIN_SIZE} and {MAX_SOURCE_SIZE} px, not {self.source_size}."
            )
        if not 1 <= self.steps <= MAX_STEPS:
            raise VizcoreError(f"Steps must be between 1 and {MAX_STEPS}, not {self.steps}.")
        if self.learning_rate <= 0 or self.tv_weight < 0 or self.jitter < 0 or self.decay < 0:
            raise VizcoreError("The learning rate must be above 0, and the weights, jitter and decay 0 or more.")


@dataclass(frozen=True)
class Texture:
    image: np.ndarray  # size x size x 3 uint8
    layers: tuple[str, ...]
    gram_distance: float  # mean over the layers of the Gram distance from the texture's (1.0: as far as all zeros)
    initial_gram_distance: float  # the same for the grey-noise start
    layer_distances: dict  # layer -> its Gram distance at the end
    settings: TextureSettings = field(default_factory=TextureSettings)
    steps_done: int = 0
    stopped: bool = False
    seconds: float = 0.0

    def summary(self) -> dict:
        return {
            "size": list(self.image.shape[:2]),
            "layers": list(self.layers),
            "gram_distance": self.gram_distance,
            "initial_gram_distance": self.initial_gram_distance,
            "layer_distances": self.layer_distances,
            "parameters": asdict(self.settings),
            "steps_done": self.steps_done,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


def _objective(layers: tuple[str, ...], settings: TextureSettings):
    grams = GramDistance(layers[0])
    for layer in layers[1:]:
        grams = grams + GramDistance(layer)
    objective = -grams * (1.0 / len(layers))
    if settings.tv_weight:
        objective = objective - settings.tv_weight * TotalVariation()
    return objective


def texture_distances(loaded: LoadedModel, image: np.ndarray, targets: dict, layers: tuple[str, ...]) -> dict:
    """Layer -> Gram distance of ``image`` (uint8 or 0..1 float, H x W x 3) from the targets, as the loop measures."""
    values = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    outputs = layer_outputs(loaded, layers, values[None])
    return {layer: gram_distance(outputs[layer][0], targets[gram_target(layer)]) for layer in layers}


def synthesise_texture(
    loaded: LoadedModel,
    texture: np.ndarray,
    settings: TextureSettings = TextureSettings(),
    *,
    layers: tuple[str, ...] | None = None,
    preview_every: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> Texture:
    """A new ``settings.size`` px square texture in the look of ``texture`` (RGB uint8), grown from grey noise.

    ``layers`` default to the model's style layers. ``on_progress`` gets the image every
    ``preview_every`` steps; ``should_stop`` and ``max_seconds`` end the run before the next
    step, keeping what it has (``stopped``).
    """
    settings.check()
    layers = tuple(dict.fromkeys(layers or loaded.spec.presets.style_layers))
    if not layers:
        raise VizcoreError("Choose at least one layer whose Gram matrices describe the texture.")
    for layer in layers:
        check_feature_map_layer(loaded, layer, "match")
    grams = blended_grams(loaded, [texture], [1.0], layers, settings.source_size)
    targets = {gram_target(layer): gram for layer, gram in grams.items()}
    result = render(
        loaded,
        _objective(layers, settings),
        FourierImage(settings.decay),
        batch=1,
        size=settings.size,
        steps=settings.steps,
        learning_rate=settings.learning_rate,
        transforms=(Jitter(float(settings.jitter)),) if settings.jitter else (),
        seed=settings.seed,
        targets=targets,
        preview_every=preview_every,
        on_progress=on_progress,
        should_stop=should_stop,
        max_seconds=max_seconds,
    )
    image = to_uint8(result.images[0])
    final = texture_distances(loaded, image, targets, layers)
    initial = texture_distances(loaded, result.initial_images[0], targets, layers)
    return Texture(
        image=image,
        layers=layers,
        gram_distance=float(np.mean(list(final.values()))),
        initial_gram_distance=float(np.mean(list(initial.values()))),
        layer_distances=final,
        settings=settings,
        steps_done=result.steps_done,
        stopped=result.stopped,
        seconds=result.seconds,
    )
