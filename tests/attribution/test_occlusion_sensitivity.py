import numpy as np
import pytest

from vizcore import attribution
from vizcore.attribution.occlusion_sensitivity import patch_positions
from vizcore.errors import VizcoreError

from .conftest import hottest_region, in_face


def test_hiding_the_face_hurts_the_cat_class_most(embedded_model, chelsea):
    result = attribution.occlusion(embedded_model, chelsea, patch=32, stride=16)
    assert result.values.shape == (224, 224) and result.details["patches"] == 13 * 13
    assert in_face(hottest_region(result.values))
    assert result.values.max() > 0.03  # hiding one patch costs the class several points of probability


def test_chunk_size_does_not_change_the_map(embedded_model, chelsea):
    small = attribution.occlusion(embedded_model, chelsea, patch=56, stride=56, chunk=3).values
    large = attribution.occlusion(embedded_model, chelsea, patch=56, stride=56, chunk=64).values
    np.testing.assert_allclose(small, large, atol=1e-5)


def test_patches_cover_the_whole_image():
    positions = patch_positions(224, 48, 40)
    covered = np.zeros((224, 224), bool)
    for top, left in positions:
        covered[top : top + 48, left : left + 48] = True
    assert covered.all()


@pytest.mark.parametrize("fill", ["grey", "mean", "blur"])
def test_every_fill_works(embedded_model, chelsea, fill):
    result = attribution.occlusion(embedded_model, chelsea, patch=112, stride=112, fill=fill)
    assert np.isfinite(result.values).all() and result.details["fill"] == fill


def test_bad_options_say_why(embedded_model, chelsea):
    with pytest.raises(VizcoreError, match="Unknown fill"):
        attribution.occlusion(embedded_model, chelsea, fill="pink")
    with pytest.raises(VizcoreError, match="Occlusion patch must be 1 to 224 px, not 0 px"):
        attribution.occlusion(embedded_model, chelsea, patch=0)


def test_coarse_patches_come_first_and_tile_the_image():
    """The first group of patches covers every pixel, so the first partial map is a blurry whole, not a top strip."""
    positions = patch_positions(224, 32, 8)  # stride 8: four patches per patch side
    ordered = attribution.occlusion_sensitivity.coarse_to_fine(positions, 32, 8)
    assert sorted(ordered) == sorted(positions)
    first = ordered[: 8 * 8]  # every 4th start (0, 32, ... 160) plus the flush edge 192: 7 + 1 per axis
    covered = np.zeros((224, 224), bool)
    for top, left in first:
        covered[top : top + 32, left : left + 32] = True
    assert covered.all()


def test_progress_reports_partial_maps_that_become_the_final_map(embedded_model, chelsea):
    calls = []
    result = attribution.occlusion(embedded_model, chelsea, patch=56, stride=28, chunk=4,
                                   progress=lambda done, total, partial: calls.append((done, total, partial.copy())))
    total = result.details["patches"]
    assert [done for done, _, _ in calls] == [min(done, total) for done in range(4, total + 4, 4)]
    assert all(count == total for _, count, _ in calls)
    assert all(partial.shape == (224, 224) for _, _, partial in calls)
    np.testing.assert_array_equal(calls[-1][2], result.values)
    # The partial maps converge on the final map; once the coarse patches (every other start, 4 x 4 of the 7 x 7)
    # have tiled the image, the partial map already looks like the final one.
    distances = [np.abs(partial - result.values).mean() for _, _, partial in calls]
    assert distances[0] > distances[len(distances) // 2] > distances[-1] == 0
    after_coarse = calls[16 // 4 - 1][2]
    assert np.corrcoef(after_coarse.ravel(), result.values.ravel())[0, 1] > 0.6


class Stopped(Exception):
    pass


def test_raising_from_progress_stops_the_run(embedded_model, chelsea):
    calls = []

    def stop_after_two(done, total, partial):
        calls.append(done)
        if len(calls) == 2:
            raise Stopped

    with pytest.raises(Stopped):
        attribution.occlusion(embedded_model, chelsea, patch=56, stride=28, chunk=4, progress=stop_after_two)
    assert calls == [4, 8]  # no chunk ran after the exception


def test_logit_score_measures_drops_in_logits(embedded_model, chelsea):
    probability = attribution.occlusion(embedded_model, chelsea, patch=56, stride=56)
    logit = attribution.occlusion(embedded_model, chelsea, patch=56, stride=56, score="logit")
    assert probability.details["score"] == "probability" and logit.details["score"] == "logit"
    assert probability.values.max() <= 1.0
    assert logit.values.max() > probability.values.max()  # a logit falls by more than a 0..1 probability can
    assert in_face(hottest_region(logit.values))
    assert np.corrcoef(logit.values.ravel(), probability.values.ravel())[0, 1] > 0.5
    with pytest.raises(VizcoreError, match="Unknown score 'margin' for Occlusion: choose one of probability, logit."):
        attribution.occlusion(embedded_model, chelsea, score="margin")
