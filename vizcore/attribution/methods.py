"""The attribution methods, one row each: name, title, what it shows, and its options with their limits.

This table is the one place a method's title, options, defaults and ranges are written. The CLI
builds its arguments from it, the pages their widgets, ``vizcore.attribution`` its METHOD_TITLES
and LAYER_METHODS, and ``check_options`` is the range check (the method functions raise the same
errors for the same values; tests/attribution/test_methods.py holds them to it).

Pure data: importing this module loads neither TensorFlow nor the methods, so ``vizcore --help``
stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass

from vizcore.errors import VizcoreError

INPUT_SIZE = "input size"  # an upper bound that is the model's input side in pixels, known once a model is loaded

# Widget kinds a page can build for an option.
SLIDER, NUMBER, RADIO = "slider", "number", "radio"


@dataclass(frozen=True)
class Option:
    """One keyword argument of a method (``--name-with-dashes`` on the CLI).

    ``minimum``/``maximum`` bound numbers (inclusive; ``maximum`` may be INPUT_SIZE or None for no
    upper bound); ``choices`` lists the values of a text option. ``step`` and ``widget`` are hints
    for a page's widget.
    """

    name: str
    kind: type  # int, float or str
    default: int | float | str
    label: str  # a short noun: the widget's label, and the subject of the range sentence
    help: str  # one phrase: the CLI's help and the widget's tooltip
    minimum: float | None = None
    maximum: float | str | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""  # "px" for pixel sizes
    step: float | None = None
    widget: str = SLIDER

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def upper(self, input_size: int | None = None) -> float | None:
        """The largest allowed value: a number, the model's input size, or None (unbounded or not known yet)."""
        if self.maximum == INPUT_SIZE:
            return input_size
        return self.maximum

    def range_text(self, input_size: int | None = None) -> str:
        """``1 to 512``, ``at least 1``, ``1 to the model's input size (px)`` or ``grey, mean or blur``."""
        if self.choices:
            return f"{', '.join(self.choices[:-1])} or {self.choices[-1]}" if len(self.choices) > 1 else self.choices[0]
        unit = f" {self.unit}" if self.unit else ""
        upper = self.upper(input_size)
        if upper is None and self.maximum == INPUT_SIZE:
            return f"{_number(self.minimum)} to the model's input size{' in ' + self.unit if self.unit else ''}"
        if upper is None:
            return f"at least {_number(self.minimum)}{unit}"
        return f"{_number(self.minimum)} to {_number(upper)}{unit}"

    def check(self, value, title: str, input_size: int | None = None) -> None:
        """Raise VizcoreError with one sentence when ``value`` is outside this option's range or choices."""
        if self.choices:
            if value not in self.choices:
                raise VizcoreError(f"Unknown {self.label.lower()} {value!r} for {title}: choose one of {', '.join(self.choices)}.")
            return
        upper = self.upper(input_size)
        too_low = self.minimum is not None and value < self.minimum
        too_high = upper is not None and value > upper
        if too_low or too_high:
            unit = f" {self.unit}" if self.unit else ""
            raise VizcoreError(
                f"{title} {self.label.lower()} must be {self.range_text(input_size)}, not {_number(value)}{unit}."
            )


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Method:
    """One attribution method: ``name`` is its CLI command and its key in ``vizcore.attribution.explain``."""

    name: str
    title: str
    summary: str  # what the map shows, one phrase
    needs_layer: bool = False  # a CAM method: it reads a convolutional layer (default: the model's Grad-CAM layer)
    options: tuple[Option, ...] = ()
    # A pixel-level map from input gradients: shown as its magnitude, clipped at a high percentile,
    # in a sequential colormap, next to the image (vizcore.viz.display_map); its signed S x S x 3
    # gradient is kept in ``AttributionMap.raw``.
    gradient_map: bool = False
    contrastive: bool = False  # takes ``contrast_class``: evidence for the class against another (CLI --contrast)

    def option(self, name: str) -> Option:
        return next(option for option in self.options if option.name == name)

    def defaults(self) -> dict:
        return {option.name: option.default for option in self.options}

    def check(self, options: dict, input_size: int | None = None) -> None:
        """Raise VizcoreError for an option this method does not take, or a value outside its range."""
        known = {option.name: option for option in self.options}
        for name, value in options.items():
            if name not in known:
                takes = f"takes {', '.join(known)}" if known else "takes no options"
                raise VizcoreError(f"{self.title} has no option {name!r}: it {takes}.")
            known[name].check(value, self.title, input_size)


MAX_GRADIENT_SAMPLES = 512  # SmoothGrad samples and IG steps: each is one gradient of the whole model

TABLE = (
    Method(
        "occlusion", "Occlusion", "how much the class score drops when each patch of the image is hidden",
        options=(
            Option("patch", int, 32, "Patch", "side of the hidden square", 1, INPUT_SIZE, unit="px", step=1),
            Option("stride", int, 16, "Stride", "step between patches", 1, INPUT_SIZE, unit="px", step=1),
            Option("fill", str, "grey", "Fill", "what hides a patch: grey, the image mean, or a blurred copy",
                   choices=("grey", "mean", "blur"), widget=RADIO),
            Option("score", str, "probability", "Score",
                   "what a hidden patch's drop is measured in: the class probability (0..1) or its logit (never saturates)",
                   choices=("probability", "logit"), widget=RADIO),
        ),
    ),
    Method("saliency", "Saliency", "the largest input gradient of the class score at each pixel",
           gradient_map=True, contrastive=True),
    Method(
        "smoothgrad", "SmoothGrad", "input gradients averaged over noisy copies of the image",
        gradient_map=True, contrastive=True,
        options=(
            Option("samples", int, 128, "Samples", "noisy copies averaged (in pairs: +noise and -noise)", 1,
                   MAX_GRADIENT_SAMPLES, step=1),
            Option("noise", float, 0.05, "Noise", "noise level, as a share of the input range", 0.0, 1.0, step=0.05),
            Option("blur", float, 1.0, "Blur", "Gaussian blur of the map: steadier across seeds, less fine detail, and more of the image's "
                   "own edges, which a model with random weights shows too (0: the paper's per-pixel map)", 0.0, 8.0, unit="px", step=0.5),
            Option("seed", int, 0, "Seed", "seed of the noise: the same seed gives the same map", 0, step=1,
                   widget=NUMBER),
        ),
    ),
    Method(
        "ig", "Integrated Gradients", "each pixel's share of the class score, along a path from a reference image",
        gradient_map=True, contrastive=True,
        options=(
            Option("steps", int, 256, "Steps",
                   "gradient evaluations along the path: the most the tolerance may use, or exactly this many "
                   "evenly spaced at tolerance 0", 2, MAX_GRADIENT_SAMPLES, step=1),
            Option("baseline", str, "black", "Baseline", "the reference image the path starts from",
                   choices=("black", "blurred", "noise"), widget=RADIO),
            Option("tolerance", float, 0.01, "Tolerance",
                   "the completeness error to reach (share of the score difference), refining the path where the "
                   "score changes; 0: evenly spaced steps, unchecked", 0.0, 0.5, step=0.005),
        ),
    ),
    Method("guided", "Guided backprop", "gradients through ReLUs that pass only positive signal, both ways",
           gradient_map=True, contrastive=True),
    Method("gradcam", "Grad-CAM", "a layer's feature maps weighted by the class score's mean gradient", needs_layer=True,
           contrastive=True),
    Method("gradcam++", "Grad-CAM++", "Grad-CAM with per-position weights from higher-order gradients", needs_layer=True,
           contrastive=True),
    Method(
        "scorecam", "Score-CAM", "a layer's channels weighted by the class probability each keeps as a mask",
        needs_layer=True, contrastive=True,
        options=(
            Option("max_channels", int, 256, "Channels", "most active channels used (one forward pass each)", 1,
                   step=8, widget=NUMBER),
        ),
    ),
    Method("guided-gradcam", "Guided Grad-CAM", "guided backprop's fine detail, kept where Grad-CAM is hot", needs_layer=True,
           gradient_map=True, contrastive=True),
)

METHODS: dict[str, Method] = {method.name: method for method in TABLE}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise VizcoreError(f"Unknown method {name!r}: choose one of {', '.join(METHODS)}.") from None


def check_options(method: str, options: dict, input_size: int | None = None) -> None:
    """Raise VizcoreError with one sentence for an unknown method, option, or a value out of range.

    Bounds that are the model's input size are checked only when ``input_size`` is given.
    """
    get_method(method).check(options, input_size)
