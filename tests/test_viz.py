import numpy as np
import pytest

from vizcore import viz
from vizcore.errors import VizcoreError


def test_colorize_maps_the_ends_of_the_range():
    values = np.array([[0.0, 1.0]])
    grey = viz.colorize(values, "gray")
    assert grey.shape == (1, 2, 3) and grey[0, 0].tolist() == [0, 0, 0] and grey[0, 1].tolist() == [255, 255, 255]
    jet = viz.colorize(values, "jet")
    assert jet[0, 0, 2] > jet[0, 0, 0] and jet[0, 1, 0] > jet[0, 1, 2]  # jet: blue low, red high (RGB order)
    with pytest.raises(VizcoreError):
        viz.colorize(values, "rainbow-ish")


def test_channel_grid_places_channels_in_order():
    maps = np.zeros((4, 4, 3), np.float32)
    maps[..., 2] = 1.0
    grid = viz.channel_grid(maps, [2, 0], columns=2, tile=8, colormap="gray")
    assert grid.shape == (8 + 2 * 2, 2 * (8 + 2) + 2, 3)
    assert (grid[2:10, 2:10] == 255).all()  # channel 2 (all ones) first
    assert (grid[2:10, 12:20] == 0).all()  # then channel 0 (zeros)
    with pytest.raises(VizcoreError):
        viz.channel_grid(maps, [])


def test_overlay_blends_by_opacity():
    pixels = np.full((20, 30, 3), 100, np.uint8)
    values = np.ones((5, 5), np.float32)
    assert (viz.overlay(pixels, values, opacity=0.0) == pixels).all()
    full = viz.overlay(pixels, values, opacity=1.0, colormap="gray")
    assert full.shape == pixels.shape and (full == 255).all()


def test_enlarged_map_keeps_hard_edges():
    big = viz.enlarged_map(np.array([[0.0, 1.0]]), 4, "gray")
    assert big.shape == (4, 4, 3) and set(np.unique(big)) == {0, 255}
