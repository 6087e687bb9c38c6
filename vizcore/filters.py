"""Filter gallery: for each chosen channel of a layer, an image that excites it as much as possible.

All chosen channels are optimised together as one batch (one gradient computation per step for
the whole gallery) by the shared render loop in ``vizcore.optimize``. Images are RGB uint8.

The default recipe is progressive: the first 5/8 of the steps optimise one half-size tile of a
2 x 2-periodic image (about a third of the cost per step), the rest refine the full-size image
with gentler transforms after a learning-rate warm-up. Its 128 steps end with every channel at
about the activation that the former recipe (256 full-size steps) reaches, in less than half
the time that recipe needs to come within 90% of it; bench/filters.py measures both.

The "class" objective is class model visualisation (Simonyan et al. 2013): for each chosen class,
an image that maximises the model's logit of that class (``visualise_classes``), all classes in
one batch, at full size throughout (a class is one object, not a repeating pattern).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.images import to_uint8
from vizcore.models.layers import check_feature_map_layer, layer_infos
from vizcore.models.spec import LoadedModel
from vizcore.models.graph import SCORE
from vizcore.optimize import (
    CHANNELS, CLASSES, PARAMETERIZATIONS, CentreNeuron, ChannelMean, ClassLogit, Diversity, FourierImage, Jitter, L2, Progress, Rotate,
    Scale, Stage, TotalVariation, feature_model, layer_outputs, render,
)
from vizcore.limits import MAX_SECONDS, MAX_STEPS

OBJECTIVES = ("channel", "neuron", "class")
MAX_IMAGES = 64  # channels x images per channel, per run: bounds memory and time
MAX_SIZE = 512
MIN_SIZE = 32
MAX_IMAGES_PER_CHANNEL = 4
COARSE_TILE = 2  # the half-size start optimises one tile of a 2 x 2-periodic image
# The tile's learning rate, as a share of the settings': at the full rate its colours clip more
# (measured: 2% of pixels at 0 or 255 instead of 0.8%) for no higher activation.
COARSE_RATE = 0.5


@dataclass(frozen=True)
class FilterSettings:
    """How the gallery is rendered. Sizes in pixels, angles in degrees; weights multiply 0..1-pixel terms."""

    steps: int = 128
    size: int = 128
    learning_rate: float = 0.05
    parameterization: str = "fourier"  # or "pixel"
    decay: float = 1.25  # Fourier only: how strongly high frequencies are damped
    jitter: int = 8
    scale: float = 0.1  # random zoom in [1 - scale, 1 + scale]
    rotate: float = 10.0
    # Share 0..1 of the steps spent at half size, on one tile of a 2 x 2-periodic image (about a
    # third of the cost of a full-size step; patterns keep their pixel scale); 0: all at full size.
    coarse_share: float = 0.625
    # After a half-size start, the full-size steps use jitter, scale and rotation times this share:
    # the layout is set, gentler moves let the detail sharpen.
    detail_transforms: float = 0.35
    tv_weight: float = 0.0  # total variation: higher is smoother
    l2_weight: float = 0.0  # pull towards grey: higher is less saturated
    objective: str = "channel"  # "channel": mean of the whole map; "neuron": its centre unit; "class": a class logit
    images_per_channel: int = 1  # above 1, the images of a channel are pushed apart (diversity)
    diversity_weight: float = 10.0
    seed: int = 0

    def check(self) -> None:
        if self.objective not in OBJECTIVES:
            raise VizcoreError(f"Unknown objective {self.objective!r}: choose one of {', '.join(OBJECTIVES)}.")
        if self.parameterization not in PARAMETERIZATIONS:
            raise VizcoreError(
                f"Unknown parameterisation {self.parameterization!r}: choose one of {', '.join(PARAMETERIZATIONS)}."
            )
        if not 1 <= self.steps <= MAX_STEPS:
            raise VizcoreError(f"Steps must be between 1 and {MAX_STEPS}, not {self.steps}.")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise VizcoreError(f"Image size must be between {MIN_SIZE} and {MAX_SIZE} px, not {self.size}.")
        if not 1 <= self.images_per_channel <= MAX_IMAGES_PER_CHANNEL:
            raise VizcoreError(f"Images per channel must be between 1 and {MAX_IMAGES_PER_CHANNEL}, not {self.images_per_channel}.")
        if self.learning_rate <= 0:
            raise VizcoreError(f"The learning rate must be above 0, not {self.learning_rate}.")
        if not 0 <= self.scale < 1 or self.jitter < 0 or self.rotate < 0:
            raise VizcoreError("Jitter and rotation must be 0 or more, and the scale range between 0 and 1.")
        if not 0 <= self.coarse_share < 1 or not 0 < self.detail_transforms <= 1:
            raise VizcoreError("The half-size share must be from 0 to below 1, and the detail transforms above 0 and at most 1.")
        if self.objective == "class" and self.images_per_channel > 1:
            raise VizcoreError("The class objective renders one image per class: set images per channel to 1.")

    def transforms(self, strength: float = 1.0) -> tuple:
        """The random transforms, with jitter, scale and rotation times ``strength``."""
        jitter = round(self.jitter * strength)
        chosen = []
        if jitter:
            chosen.append(Jitter(float(jitter)))
        if self.scale:
            chosen.append(Scale(1.0 - self.scale * strength, 1.0 + self.scale * strength))
        if self.rotate:
            chosen.append(Rotate(float(self.rotate * strength)))
        if jitter:
            chosen.append(Jitter(float(max(jitter // 2, 1))))
        return tuple(chosen)

    def stages(self, any_size: bool = True) -> tuple[Stage, ...]:
        """The render schedule: half-size steps first where the model and size allow, then full size."""
        coarse = 0 if self.objective == "class" else round(self.steps * self.coarse_share)
        if not coarse or not any_size or self.size % COARSE_TILE or coarse == self.steps:
            return (Stage(self.steps, transforms=self.transforms()),)
        detail = self.steps - coarse
        return (
            Stage(coarse, tile=COARSE_TILE, transforms=self.transforms(), rate=COARSE_RATE),
            Stage(detail, transforms=self.transforms(self.detail_transforms), warm_up=max(detail // 3, 1)),
        )

    def parameterization_object(self):
        if self.parameterization == "fourier":
            return FourierImage(self.decay)
        return PARAMETERIZATIONS[self.parameterization]

    def objective_for(self, layer: str):
        """The objective for ``layer``'s channels; for the class objective ``layer`` is not read."""
        units = {"channel": ChannelMean, "neuron": CentreNeuron}
        unit = ClassLogit() if self.objective == "class" else units[self.objective](layer)
        objective = unit
        if self.tv_weight:
            objective = objective - self.tv_weight * TotalVariation()
        if self.l2_weight:
            objective = objective - self.l2_weight * L2()
        if self.images_per_channel > 1:
            objective = objective + self.diversity_weight * Diversity(layer, self.images_per_channel)
        return objective


@dataclass(frozen=True)
class FilterGallery:
    model: str
    layer: str
    channels: tuple[int, ...]  # the channel each image excites, one entry per image
    images: np.ndarray  # N x size x size x 3, uint8 RGB
    final_activation: np.ndarray  # N, the objective's unit on each final image (no transforms)
    initial_activation: np.ndarray  # N, the same on the starting image
    settings: FilterSettings = field(default_factory=FilterSettings)
    steps_done: int = 0
    stopped: bool = False
    seconds: float = 0.0
    # The class objective only: each image's class name, and the model's top-1 class and its
    # probability for the image as a photo (resized to the model's input, as Predictions shows it).
    class_labels: tuple[str, ...] = ()
    predicted: tuple[tuple[int, str, float], ...] = ()

    def summary(self) -> dict:
        """The JSON record: what was asked, and how strongly each image excites its channel."""

        def number(value) -> float | None:  # a stopped run's preview has no measured activations
            return None if np.isnan(value) else float(value)

        if self.class_labels:
            return {
                "model": self.model,
                "objective": "class",
                "classes": list(dict.fromkeys(self.channels)),
                "parameters": asdict(self.settings),
                "steps_done": self.steps_done,
                "stopped": self.stopped,
                "seconds": round(self.seconds, 3),
                "images": [
                    {"class": index, "label": label, "final_logit": number(final), "initial_logit": number(initial),
                     "top1_class": top[0], "top1_label": top[1], "top1_probability": top[2]}
                    for index, label, final, initial, top in zip(
                        self.channels, self.class_labels, self.final_activation, self.initial_activation, self.predicted
                    )
                ],
            }
        return {
            "model": self.model,
            "layer": self.layer,
            "channels": sorted(set(self.channels)),
            "parameters": asdict(self.settings),
            "steps_done": self.steps_done,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "final_activation": [number(value) for value in self.final_activation],
            "images": [
                {"channel": channel, "final_activation": number(final), "initial_activation": number(initial)}
                for channel, final, initial in zip(self.channels, self.final_activation, self.initial_activation)
            ],
        }


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_channels(text: str, channel_count: int) -> list[int]:
    """``"0-15"``, ``"3, 7, 40-43"`` -> channel indices in the order given, checked against the layer."""
    channels: list[int] = []
    for part in str(text).split(","):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if not match:
            raise VizcoreError(f"Could not read channels {text!r}: write them like 0-15 or 3, 7, 40-43.")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise VizcoreError(f"The channel range {part.strip()} runs backwards: write it as {last}-{first}.")
        channels.extend(range(first, last + 1))
    if not channels:
        raise VizcoreError("Choose at least one channel, like 0-15.")
    if max(channels) >= channel_count:
        raise VizcoreError(f"Channel {max(channels)} does not exist: the layer has channels 0 to {channel_count - 1}.")
    return list(dict.fromkeys(channels))


def layer_channel_count(loaded: LoadedModel, layer: str) -> int:
    check_feature_map_layer(loaded, layer, "optimise")
    return int(next(info.channels for info in layer_infos(loaded) if info.name == layer))


def parse_classes(text: str, class_names: tuple[str, ...]) -> list[int]:
    """``"285, 967"`` or ``"Egyptian cat, espresso"`` (names or indices, comma-separated) -> class indices, checked."""
    from vizcore.models.class_names import class_index_of

    classes = [class_index_of(class_names, part) for part in str(text).split(",") if part.strip()]
    if not classes:
        raise VizcoreError("Choose at least one class, by name or index, like 285, 967.")
    for index in classes:
        if not 0 <= index < len(class_names):
            raise VizcoreError(f"Class {index} does not exist: the model has classes 0 to {len(class_names) - 1}.")
    return list(dict.fromkeys(classes))


def unit_activations(loaded: LoadedModel, layer: str, images: np.ndarray, objective: str = "channel") -> np.ndarray:
    """N x C: for each image (uint8 or 0..1 float), every channel's mean (or centre unit) on ``layer``."""
    values = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    maps = layer_outputs(loaded, (layer,), values)[layer]
    if objective == "neuron":
        return maps[:, maps.shape[1] // 2, maps.shape[2] // 2, :]
    return maps.mean(axis=(1, 2))


def visualise_filters(
    loaded: LoadedModel,
    layer: str,
    channels: list[int],
    settings: FilterSettings = FilterSettings(),
    *,
    preview_every: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> FilterGallery:
    """Render one image per channel (``images_per_channel`` each) of ``layer``, all in one batch.

    ``on_progress``, ``should_stop`` and ``max_seconds`` are passed to the render loop: live
    previews every ``preview_every`` steps, and a stop (asked for, or after ``max_seconds`` of
    wall time; None: no cap) that takes effect before the next step.
    """
    settings.check()
    if settings.objective == "class":
        raise VizcoreError("The class objective renders classes, not channels: use visualise_classes.")
    channel_count = layer_channel_count(loaded, layer)
    channels = [int(channel) for channel in channels]
    if not channels or min(channels) < 0 or max(channels) >= channel_count:
        raise VizcoreError(f"Channels must be between 0 and {channel_count - 1} for layer {layer!r}.")
    per_image = np.repeat(np.asarray(channels, np.int32), settings.images_per_channel)
    if len(per_image) > MAX_IMAGES:
        raise VizcoreError(
            f"That is {len(per_image)} images in one run; the limit is {MAX_IMAGES}: choose fewer channels or images per channel."
        )
    any_size = feature_model(loaded, (layer,)).inputs[0].shape[1] is None
    result = _render_batch(loaded, settings, layer, settings.stages(any_size), {CHANNELS: per_image},
                           preview_every=preview_every, on_progress=on_progress, should_stop=should_stop,
                           max_seconds=max_seconds)
    images = to_uint8(result.images)
    rows = np.arange(len(per_image))
    final = unit_activations(loaded, layer, images, settings.objective)[rows, per_image]
    initial = unit_activations(loaded, layer, result.initial_images, settings.objective)[rows, per_image]
    return FilterGallery(
        model=loaded.spec.name,
        layer=layer,
        channels=tuple(int(channel) for channel in per_image),
        images=images,
        final_activation=final,
        initial_activation=initial,
        settings=settings,
        steps_done=result.steps_done,
        stopped=result.stopped,
        seconds=result.seconds,
    )


def _render_batch(loaded: LoadedModel, settings: FilterSettings, layer: str, stages, targets: dict, **run):
    """``render`` of one image per target (``targets``' single array), with ``settings``' objective on ``layer``."""
    (per_image,) = targets.values()
    return render(
        loaded,
        settings.objective_for(layer),
        settings.parameterization_object(),
        batch=len(per_image),
        size=settings.size,
        learning_rate=settings.learning_rate,
        stages=stages,
        seed=settings.seed,
        targets=targets,
        **run,
    )


def class_logits(loaded: LoadedModel, images: np.ndarray) -> np.ndarray:
    """N x classes: the model's scores before the softmax for each image (uint8 or 0..1 float) at its own size."""
    values = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    return layer_outputs(loaded, (SCORE,), values)[SCORE]


def visualise_classes(
    loaded: LoadedModel,
    classes: list[int],
    settings: FilterSettings = FilterSettings(objective="class"),
    *,
    preview_every: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> FilterGallery:
    """Class model visualisation: one image per class in ``classes`` that maximises its logit, all in one batch.

    ``settings.objective`` must be "class"; the images are ``settings.size`` px (a model whose head
    takes one size only is rendered at that size). The result's ``channels`` are the class
    indices, ``final_activation``/``initial_activation`` each image's logit of its class after
    and before, and ``predicted`` the model's top-1 class for each image as a photo.
    """
    from vizcore.predictions import top_predictions

    settings.check()
    if settings.objective != "class":
        raise VizcoreError(f"Class images need the class objective, not {settings.objective!r}.")
    names = loaded.class_names
    classes = [int(index) for index in classes]
    if not classes or min(classes) < 0 or max(classes) >= len(names):
        raise VizcoreError(f"Classes must be between 0 and {len(names) - 1}.")
    if len(classes) > MAX_IMAGES:
        raise VizcoreError(f"That is {len(classes)} classes in one run; the limit is {MAX_IMAGES}: choose fewer.")
    per_image = np.asarray(classes, np.int32)
    result = _render_batch(loaded, settings, SCORE, settings.stages(), {CLASSES: per_image},
                           preview_every=preview_every, on_progress=on_progress, should_stop=should_stop,
                           max_seconds=max_seconds)
    images = to_uint8(result.images)
    rows = np.arange(len(per_image))
    predicted = []
    for image in images:
        top = top_predictions(loaded, image, 1)[0]
        predicted.append((int(top.index), top.label, float(top.probability)))
    return FilterGallery(
        model=loaded.spec.name,
        layer=SCORE,
        channels=tuple(classes),
        images=images,
        final_activation=class_logits(loaded, images)[rows, per_image],
        initial_activation=class_logits(loaded, result.initial_images)[rows, per_image],
        settings=settings,
        steps_done=result.steps_done,
        stopped=result.stopped,
        seconds=result.seconds,
        class_labels=tuple(names[index] for index in classes),
        predicted=tuple(predicted),
    )
