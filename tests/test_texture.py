import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from vizcore import texture
from vizcore.errors import VizcoreError
from vizcore.optimize.targets import resized

QUICK = texture.TextureSettings(size=96, source_size=128, steps=48)
GRAM_FACTOR = 4  # the Gram distance must fall at least this many times from the grey start's (measured: 6)
PATCH = 24  # px: a patch of the new texture looked for anywhere in the texture image
COPY_MATCH = 0.9  # normalised cross-correlation a copied patch would reach (1.0 exactly)


@pytest.fixture(scope="module")
def cells():
    from vizcore import load_sample

    return load_sample("immunohistochemistry")


@pytest.fixture(scope="module")
def synthesised(embedded_model, cells):
    return texture.synthesise_texture(embedded_model, cells, QUICK)


def test_gram_distance_falls_by_the_stated_factor(synthesised):
    assert synthesised.gram_distance * GRAM_FACTOR < synthesised.initial_gram_distance
    assert set(synthesised.layer_distances) == set(synthesised.layers)


def test_the_texture_is_the_asked_size_whatever_the_image(synthesised, embedded_model, cells):
    assert synthesised.image.shape == (96, 96, 3) and synthesised.image.dtype == np.uint8
    assert synthesised.steps_done == 48 and not synthesised.stopped
    summary = json.loads(json.dumps(synthesised.summary()))
    assert summary["size"] == [96, 96] and summary["parameters"]["source_size"] == 128


def test_the_texture_is_not_the_image_copied(synthesised, cells):
    """A patch of the new texture, looked for at every position of the texture image, matches nowhere closely."""
    source = np.round(resized(cells, QUICK.source_size) * 255).astype(np.uint8)
    grey_source = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
    grey_texture = cv2.cvtColor(synthesised.image, cv2.COLOR_RGB2GRAY)
    for top, left in [(0, 0), (36, 36), (72, 72)]:
        patch = grey_texture[top : top + PATCH, left : left + PATCH]
        best = cv2.minMaxLoc(cv2.matchTemplate(grey_source, patch, cv2.TM_CCOEFF_NORMED))[1]
        assert best < COPY_MATCH
        # the check can fail: a patch of the source itself is found
        copied = grey_source[top : top + PATCH, left : left + PATCH]
        assert cv2.minMaxLoc(cv2.matchTemplate(grey_source, copied, cv2.TM_CCOEFF_NORMED))[1] > 0.99


def test_stop_and_time_cap(embedded_model, cells):
    seen = []  # QUICK's size and layers: the traced step is reused
    stopped = texture.synthesise_texture(embedded_model, cells, replace(QUICK, steps=50), on_progress=seen.append,
                                         should_stop=lambda: len(seen) >= 2)
    assert stopped.stopped and stopped.steps_done == 2 and stopped.image.shape == (96, 96, 3)
    capped = texture.synthesise_texture(embedded_model, cells, replace(QUICK, steps=2000), max_seconds=0.5)
    assert capped.stopped and 1 <= capped.steps_done < 2000


@pytest.mark.parametrize("settings, message", [
    (texture.TextureSettings(size=5000), "Texture size must be between"),
    (texture.TextureSettings(source_size=8), "texture image's size must be between"),
    (texture.TextureSettings(steps=10**6), "Steps must be between"),
])
def test_requests_over_the_caps_are_refused(embedded_model, cells, settings, message):
    with pytest.raises(VizcoreError, match=message):
        texture.synthesise_texture(embedded_model, cells, settings)


def test_a_layer_without_a_feature_map_is_one_sentence(embedded_model, cells):
    with pytest.raises(VizcoreError, match="no feature map to match"):
        texture.synthesise_texture(embedded_model, cells, QUICK, layers=("logits",))
