import numpy as np
import pytest

from vizcore import style
from vizcore.errors import VizcoreError

QUICK = style.StyleSettings(size=96, steps=60)


@pytest.fixture(scope="module")
def painting(embedded_model, chelsea):
    from vizcore import load_sample

    return load_sample("immunohistochemistry")


@pytest.fixture(scope="module")
def styled(embedded_model, chelsea, painting):
    return style.transfer_style(embedded_model, chelsea, [painting], settings=QUICK)


def _distances(embedded_model, image, chelsea, painting):
    layers, content_layer = embedded_model.spec.presets.style_layers, embedded_model.spec.presets.content_layer
    targets = {style.gram_target(layer): gram for layer, gram in style.blended_grams(embedded_model, [painting], [1.0], layers, 96).items()}
    content = style.resized(chelsea, 96)
    targets[style.feature_target(content_layer)] = style.layer_outputs(embedded_model, (content_layer,), content[None])[content_layer][0]
    return style.style_distances(embedded_model, image, targets, layers, content_layer)


def test_styled_image_has_the_style_of_the_painting(embedded_model, chelsea, painting, styled):
    content_image = np.round(style.resized(chelsea, 96) * 255).astype(np.uint8)
    content_only, style_of_content, _ = _distances(embedded_model, content_image, chelsea, painting)
    assert styled.style_loss < 0.5 * style_of_content
    assert styled.content_loss < 1.0  # still the cat: features within the scale of the content's own
    assert content_only < 1e-3


def test_shape_range_and_summary(styled):
    assert styled.image.shape == (64, 96, 3) and styled.image.dtype == np.uint8  # chelsea is 3:2
    summary = styled.summary()
    assert summary["parameters"]["steps"] == 60 and summary["steps_done"] == 60
    assert set(summary) >= {"content_loss", "style_loss", "tv_loss", "seconds"}


def test_two_styles_blend_between_them(embedded_model, chelsea, painting):
    from vizcore import load_sample

    stars = load_sample("hubble_deep_field")
    only_painting = style.blended_grams(embedded_model, [painting], [1.0], ("stem_relu",), 96)["stem_relu"]
    only_stars = style.blended_grams(embedded_model, [stars], [1.0], ("stem_relu",), 96)["stem_relu"]
    mixed = style.blended_grams(embedded_model, [painting, stars], [3.0, 1.0], ("stem_relu",), 96)["stem_relu"]
    np.testing.assert_allclose(mixed, 0.75 * only_painting + 0.25 * only_stars, rtol=1e-4, atol=1e-6)


def test_noise_start_and_stop(embedded_model, chelsea, painting):
    seen = []
    result = style.transfer_style(
        embedded_model, chelsea, [painting], settings=style.StyleSettings(size=64, steps=50, start="noise"),
        on_progress=seen.append, should_stop=lambda: len(seen) >= 5,
    )
    assert result.stopped and result.steps_done == 5


@pytest.mark.parametrize("settings, message", [
    (style.StyleSettings(size=5000), "Output size must be between"),
    (style.StyleSettings(steps=10**6), "Steps must be between"),
    (style.StyleSettings(start="white"), "Start must be one of"),
])
def test_requests_over_the_caps_are_refused(embedded_model, chelsea, painting, settings, message):
    with pytest.raises(VizcoreError, match=message):
        style.transfer_style(embedded_model, chelsea, [painting], settings=settings)


def test_bad_style_lists_say_why(embedded_model, chelsea, painting):
    with pytest.raises(VizcoreError, match="between 1 and 4 style images"):
        style.transfer_style(embedded_model, chelsea, [], settings=QUICK)
    with pytest.raises(VizcoreError, match="one weight"):
        style.transfer_style(embedded_model, chelsea, [painting], [1.0, 2.0], settings=QUICK)


def test_a_long_run_stops_at_its_time_cap(embedded_model, chelsea, painting):
    result = style.transfer_style(
        embedded_model, chelsea, [painting], settings=style.StyleSettings(size=64, steps=2000), max_seconds=0.5,
    )
    assert result.stopped and 1 <= result.steps_done < 2000
    assert result.summary()["stopped"]
