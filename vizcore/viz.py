"""Pictures from arrays: channel grids, colormaps, overlays and attribution-map scaling (numpy and OpenCV only)."""

from __future__ import annotations

import cv2
import numpy as np

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
# Gradient maps are a few extreme pixels: scaled to their maximum they show as black with a few
# dots, so maps are scaled to a high percentile of their positive values instead.
DISPLAY_PERCENTILE = 99.5


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


def overlay(pixels: np.ndarray, values: np.ndarray, opacity: float = 0.5, colormap: str = "jet") -> np.ndarray:
    """``values`` (0..1, any H x W) upsampled onto uint8 RGB ``pixels`` and blended at ``opacity`` (0..1)."""
    height, width = pixels.shape[:2]
    upsampled = cv2.resize(values.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    heat = colorize(upsampled, colormap).astype(np.float32)
    blended = (1.0 - opacity) * pixels.astype(np.float32) + opacity * heat
    return np.round(blended).clip(0, 255).astype(np.uint8)


def enlarged_map(values: np.ndarray, size: int, colormap: str = "viridis") -> np.ndarray:
    """A small H x W map (0..1) shown at ``size`` x ``size`` with hard pixel edges, as uint8 RGB."""
    return colorize(cv2.resize(values.astype(np.float32), (size, size), interpolation=cv2.INTER_NEAREST), colormap)


def display_top(values: np.ndarray) -> float:
    """The value an attribution map shows at full colour: the DISPLAY_PERCENTILE of its positive values."""
    return float(np.percentile(np.maximum(values, 0.0), DISPLAY_PERCENTILE))


def display_map(values: np.ndarray, method: str, scale_max: float | None = None) -> np.ndarray:
    """An attribution map (any H x W floats) as 0..1 for display, the one scaling the CLI and the pages share.

    Positive evidence over ``scale_max`` (the map's own ``display_top`` when None; pass one value
    to several maps so their strengths compare), clipped to 1; negative evidence shows as 0.
    ``method`` is the map's name in the method table: every method is scaled this way today, and
    a method that needs its own scaling gets it here.
    """
    positive = np.maximum(values, 0.0).astype(np.float32)
    top = scale_max if scale_max is not None else display_top(values)
    return np.clip(positive / top, 0.0, 1.0) if top > 0 else positive
