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


def test_display_map_shows_a_few_extreme_pixels_without_hiding_the_rest():
    values = np.full((100, 100), 0.01, np.float32)
    values[0, :5] = 100.0  # five extreme gradients, as saliency maps have
    values[50:, :] = -3.0  # negative evidence
    shown = viz.display_map(values, "saliency")
    assert shown.shape == values.shape and shown.dtype == np.float32
    assert shown.min() == 0.0 and shown.max() == 1.0
    assert shown[0, :5].tolist() == [1.0] * 5
    assert shown[10, 10] == pytest.approx(1.0)  # scaled to the 99.5th percentile, ordinary pixels show too
    assert (shown[50:] == 0).all()


def test_display_map_with_a_shared_scale_keeps_strengths_comparable():
    weak, strong = np.full((4, 4), 0.5), np.full((4, 4), 2.0)
    top = max(viz.display_top(weak), viz.display_top(strong))
    assert viz.display_map(weak, "ig", top).max() == pytest.approx(0.25)
    assert viz.display_map(strong, "ig", top).max() == pytest.approx(1.0)
    assert (viz.display_map(np.zeros((3, 3)), "gradcam") == 0).all()  # an empty map stays empty, no division by zero
