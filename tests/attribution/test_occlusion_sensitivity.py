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
