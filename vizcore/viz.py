"""Pictures from arrays: channel grids, colormaps, overlays and attribution-map scaling (numpy and OpenCV only)."""

from __future__ import annotations

import cv2
import numpy as np

from vizcore.attribution.methods import METHODS  # pure data: which methods are gradient maps
from vizcore.errors import VizcoreError

COLORMAPS = {
    "viridis": cv2.COLORMAP_VIRIDIS,
    "jet": cv2.COLORMAP_JET,
    "inferno": cv2.COLORMAP_INFERNO,
    "magma": cv2.COLORMAP_MAGMA,
    "turbo": cv2.COLORMAP_TURBO,
    "gray": None,
}
GRID_PADDING = 2
GRID_BACKGROUND = 255
# Maps are a few extreme pixels: scaled to their maximum they show as black with a few dots, so
# they are scaled to a high percentile of their positive values instead.
DISPLAY_PERCENTILE = 99.5
# Gradient maps (the method table's ``gradient_map`` rows) are shown as the SmoothGrad authors show
# them (PAIR's saliency library, VisualizeImageGrayscale): the magnitude, clipped at the 99th
# percentile, after a small Gaussian blur that merges the pixel-to-pixel speckle of a gradient
# into the regions it marks; in a sequential colormap, since the magnitude has no midpoint.
GRADIENT_PERCENTILE = 99.0
GRADIENT_BLUR_SIGMA = 1.0  # px at the model's input size
GRADIENT_COLORMAP = "inferno"
CAM_COLORMAP = "jet"


def colorize(values: np.ndarray, colormap: str = "viridis") -> np.ndarray:
    """A H x W map of values in 0..1 as H x W x 3 uint8 RGB through an OpenCV colormap."""
    if colormap not in COLORMAPS:
        raise VizcoreError(f"Unknown colormap {colormap!r}: choose one of {', '.join(COLORMAPS)}.")
    grey = np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)
    if COLORMAPS[colormap] is None:
        return np.repeat(grey[:, :, None], 3, axis=2)
    return cv2.cvtColor(cv2.applyColorMap(grey, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def image_grid(images: np.ndarray, columns: int = 8, padding: int = GRID_PADDING) -> np.ndarray:
    """N x H x W x 3 uint8 images laid out row by row on a white sheet, ``padding`` px apart."""
    if len(images) == 0:
        raise VizcoreError("There are no images to show.")
    count, height, width = images.shape[:3]
    columns = min(columns, count)
    rows = -(-count // columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, 3), GRID_BACKGROUND, np.uint8
    )
    for position, image in enumerate(images):
        row, column = divmod(position, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def channel_grid(
    maps: np.ndarray, channels: np.ndarray | list[int], columns: int = 8, tile: int = 64, colormap: str = "viridis"
) -> np.ndarray:
    """Chosen channels of H x W x C maps (values 0..1) as one uint8 RGB grid, row by row in the given order."""
    channels = list(channels)
    if not channels:
        raise VizcoreError("There are no channels to show.")
    tiles = [
        colorize(cv2.resize(maps[:, :, channel], (tile, tile), interpolation=cv2.INTER_NEAREST), colormap)
        for channel in channels
    ]
    return image_grid(np.stack(tiles), columns)


def overlay(
    pixels: np.ndarray, values: np.ndarray, opacity: float = 0.5, colormap: str = "jet", weighted: bool = False,
) -> np.ndarray:
    """``values`` (0..1, any H x W) upsampled onto uint8 RGB ``pixels`` and blended at ``opacity`` (0..1).

    ``weighted``: the image dimmed by ``opacity``, and each pixel's heat laid over it in proportion
    to its value (all heat at 1, all image at 0), so a few hot pixels stand out on a readable image.
    """
    height, width = pixels.shape[:2]
    upsampled = cv2.resize(values.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    heat = colorize(upsampled, colormap).astype(np.float32)
    if weighted:
        weight = np.clip(upsampled, 0.0, 1.0)[:, :, None]
        blended = (1.0 - weight) * (1.0 - opacity) * pixels.astype(np.float32) + weight * heat
    else:
        blended = (1.0 - opacity) * pixels.astype(np.float32) + opacity * heat
    return np.round(blended).clip(0, 255).astype(np.uint8)


def enlarged_map(values: np.ndarray, size: int, colormap: str = "viridis") -> np.ndarray:
    """A small H x W map (0..1) shown at ``size`` x ``size`` with hard pixel edges, as uint8 RGB."""
    return colorize(cv2.resize(values.astype(np.float32), (size, size), interpolation=cv2.INTER_NEAREST), colormap)


def is_gradient_map(method: str) -> bool:
    """True for the methods the method table marks ``gradient_map`` (saliency, SmoothGrad, IG, guided...)."""
    return method in METHODS and METHODS[method].gradient_map


def map_colormap(method: str) -> str:
    """The colormap a method's map is shown in unless the user picks one: inferno for gradient maps, jet otherwise."""
    return GRADIENT_COLORMAP if is_gradient_map(method) else CAM_COLORMAP


def _shown_strength(values: np.ndarray, method: str) -> np.ndarray:
    """What a map shows, before scaling: a gradient map's blurred magnitude, any other map's positive evidence."""
    if is_gradient_map(method):
        return cv2.GaussianBlur(np.abs(values).astype(np.float32), (0, 0), GRADIENT_BLUR_SIGMA)
    return np.maximum(values, 0.0).astype(np.float32)


def display_top(values: np.ndarray, method: str | None = None) -> float:
    """The value of ``values`` (an H x W map of ``method``) that shows at full colour in ``display_map``."""
    if method is not None and is_gradient_map(method):
        return _top_of_shown(_shown_strength(values, method), method)
    return float(np.percentile(np.maximum(values, 0.0), DISPLAY_PERCENTILE))


def _top_of_shown(shown: np.ndarray, method: str) -> float:
    return float(np.percentile(shown, GRADIENT_PERCENTILE if is_gradient_map(method) else DISPLAY_PERCENTILE))


def display_map(values: np.ndarray, method: str, scale_max: float | None = None) -> np.ndarray:
    """An attribution map (any H x W floats) as 0..1 for display, the one scaling the CLI and the pages share.

    A gradient map (``is_gradient_map``) shows its magnitude (signed IG evidence either way),
    blurred by GRADIENT_BLUR_SIGMA px; any other map its positive evidence (negative shows as 0).
    Either is divided by ``scale_max`` (the map's own ``display_top`` when None: pass one value to
    several maps of the same kind so their strengths compare) and clipped to 1.
    """
    shown = _shown_strength(values, method)
    top = scale_max if scale_max is not None else _top_of_shown(shown, method)
    return np.clip(shown / top, 0.0, 1.0) if top > 0 else shown


def map_overlay(
    pixels: np.ndarray, shown: np.ndarray, method: str, opacity: float = 0.5, colormap: str | None = None,
) -> np.ndarray:
    """A displayed map (``display_map``'s 0..1) over uint8 RGB ``pixels``, at ``opacity`` (0..1).

    A gradient map's heat is laid over in proportion to its value on the image dimmed by
    ``opacity`` (``overlay(weighted=True)``), so its few hot pixels stand out; other maps are
    blended evenly at ``opacity``. ``colormap`` None: the method's own (``map_colormap``).
    """
    return overlay(pixels, shown, opacity, colormap or map_colormap(method), weighted=is_gradient_map(method))


def map_picture(
    pixels: np.ndarray, shown: np.ndarray, method: str, opacity: float = 0.5, colormap: str | None = None,
    overlay_map: bool = True,
) -> np.ndarray:
    """The picture of a displayed map (``display_map``'s 0..1) for uint8 RGB ``pixels`` (the model-sized view).

    A gradient map is shown next to the image as well as over it: the map alone, then
    ``map_overlay``, side by side (twice as wide). Other maps: ``map_overlay``. With
    ``overlay_map`` False, the map alone. ``colormap`` None: the method's own (``map_colormap``).
    """
    colormap = colormap or map_colormap(method)
    alone = colorize(cv2.resize(shown.astype(np.float32), pixels.shape[1::-1], interpolation=cv2.INTER_CUBIC), colormap)
    if not overlay_map:
        return alone
    over = map_overlay(pixels, shown, method, opacity, colormap)
    return side_by_side([alone, over]) if is_gradient_map(method) else over


def side_by_side(pictures: list[np.ndarray], padding: int = GRID_PADDING) -> np.ndarray:
    """Equal-sized uint8 RGB pictures in one row, ``padding`` px of white between them (none around)."""
    height = pictures[0].shape[0]
    gap = np.full((height, padding, 3), GRID_BACKGROUND, np.uint8)
    row = [pictures[0]]
    for picture in pictures[1:]:
        row += [gap, picture]
    return np.concatenate(row, axis=1)


DIVERGING_POSITIVE = np.array([214, 39, 40], np.float32)  # red: where the first of two maps is stronger
DIVERGING_NEGATIVE = np.array([31, 119, 180], np.float32)  # blue: where the second is


def diverging(values: np.ndarray) -> np.ndarray:
    """A H x W signed map (-1..1) as uint8 RGB: white at 0, red towards 1, blue towards -1 (clipped)."""
    clipped = np.clip(values.astype(np.float32), -1.0, 1.0)[:, :, None]
    white = np.float32(255)
    colour = np.where(clipped >= 0, DIVERGING_POSITIVE, DIVERGING_NEGATIVE)
    return np.round(white + np.abs(clipped) * (colour - white)).astype(np.uint8)
