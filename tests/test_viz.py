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


def test_a_cam_map_shows_its_positive_evidence_scaled_to_a_high_percentile():
    values = np.full((100, 100), 0.01, np.float32)
    values[0, :5] = 100.0  # five extreme values
    values[50:, :] = -3.0  # negative evidence
    shown = viz.display_map(values, "gradcam")
    assert shown.shape == values.shape and shown.dtype == np.float32
    assert shown.min() == 0.0 and shown.max() == 1.0
    assert shown[0, :5].tolist() == [1.0] * 5
    assert shown[10, 10] == pytest.approx(1.0)  # scaled to the 99.5th percentile, ordinary pixels show too
    assert (shown[50:] == 0).all()


def test_a_gradient_map_shows_its_magnitude_blurred_and_clipped_at_the_99th_percentile():
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 1.0, (100, 100)).astype(np.float32)
    values[20, 20] = -500.0  # one extreme negative gradient: evidence all the same
    shown = viz.display_map(values, "ig")
    assert shown.shape == values.shape and shown.dtype == np.float32 and shown.min() >= 0 and shown.max() == 1.0
    assert shown[20, 20] == 1.0 and shown[20, 22] == 1.0  # its magnitude shows, spread over its neighbours
    assert 0.005 < (shown == 1.0).mean() < 0.03  # about the top 1% at full colour, not one pixel
    assert np.median(shown) > 0.3  # ordinary gradients stay visible
    # The same map as a CAM shows only positive evidence, scaled to the 99.5th percentile, unblurred.
    assert viz.display_map(values, "gradcam")[20, 20] == 0.0


def test_which_maps_are_gradient_maps_comes_from_the_method_table():
    from vizcore.attribution.methods import TABLE

    for method in TABLE:
        assert viz.is_gradient_map(method.name) == method.gradient_map
        assert viz.map_colormap(method.name) == ("inferno" if method.gradient_map else "jet")
    assert {method.name for method in TABLE if method.gradient_map} == {"saliency", "smoothgrad", "ig", "guided",
                                                                        "guided-gradcam"}


def test_a_gradient_map_picture_is_the_map_next_to_the_image_and_over_it():
    pixels = np.full((30, 30, 3), 120, np.uint8)
    shown = np.zeros((30, 30), np.float32)
    shown[10:20, 10:20] = 1.0
    picture = viz.map_picture(pixels, shown, "saliency", opacity=0.8)
    assert picture.shape == (30, 2 * 30 + viz.GRID_PADDING, 3) and picture.dtype == np.uint8
    alone, over = picture[:, :30], picture[:, 30 + viz.GRID_PADDING:]
    np.testing.assert_array_equal(alone, viz.colorize(shown, "inferno"))
    assert (over[0, 0] == 24).all()  # where the map is 0, the image dimmed by the opacity
    hot = viz.colorize(np.ones((1, 1)), "inferno")[0, 0]
    assert (over[15, 15] == hot).all()  # where it is 1, the heat alone
    assert (picture[:, 30:30 + viz.GRID_PADDING] == viz.GRID_BACKGROUND).all()
    # A CAM map is blended over the image at one opacity, the image's size; without overlay, the map alone.
    cam = viz.map_picture(pixels, shown, "gradcam", opacity=0.8)
    np.testing.assert_array_equal(cam, viz.overlay(pixels, shown, 0.8, "jet"))
    np.testing.assert_array_equal(viz.map_picture(pixels, shown, "ig", colormap="gray", overlay_map=False),
                                  viz.colorize(shown, "gray"))


def test_display_map_with_a_shared_scale_keeps_strengths_comparable():
    weak, strong = np.full((4, 4), 0.5), np.full((4, 4), 2.0)
    top = max(viz.display_top(weak, "ig"), viz.display_top(strong, "ig"))
    assert top == pytest.approx(2.0)
    assert viz.display_map(weak, "ig", top).max() == pytest.approx(0.25)
    assert viz.display_map(strong, "ig", top).max() == pytest.approx(1.0)
    assert viz.display_map(-strong, "ig", top).max() == pytest.approx(1.0)  # a gradient map's sign does not dim it
    assert (viz.display_map(np.zeros((3, 3)), "gradcam") == 0).all()  # an empty map stays empty, no division by zero


def test_diverging_is_white_at_zero_red_for_the_first_map_blue_for_the_second():
    picture = viz.diverging(np.array([[0.0, 1.0, -1.0, 0.5, 3.0]]))
    assert picture.dtype == np.uint8 and picture.shape == (1, 5, 3)
    assert (picture[0, 0] == 255).all()
    np.testing.assert_array_equal(picture[0, 1], viz.DIVERGING_POSITIVE)
    np.testing.assert_array_equal(picture[0, 2], viz.DIVERGING_NEGATIVE)
    assert 255 > picture[0, 3, 1] > viz.DIVERGING_POSITIVE[1]  # half-way: a paler red
    np.testing.assert_array_equal(picture[0, 4], picture[0, 1])  # clipped at 1
