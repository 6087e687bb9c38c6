import json

import numpy as np
import pytest

from vizcore import filters
from vizcore.errors import VizcoreError

LAYER = "stage3_block2_add"
QUICK = filters.FilterSettings(steps=64, size=64)


@pytest.fixture(scope="module")
def gallery(embedded_model):
    return filters.visualise_filters(embedded_model, LAYER, list(range(16)), QUICK)


def test_each_channel_is_excited_at_least_5x_by_its_own_image(gallery):
    assert gallery.images.shape == (16, 64, 64, 3) and gallery.images.dtype == np.uint8
    assert gallery.channels == tuple(range(16)) and gallery.steps_done == 64 and not gallery.stopped
    # This layer has no ReLU, so the grey start can give a negative mean; 5x a negative number would
    # be no test, so from a negative start the image must end positive and larger than the start's size.
    initial, final = gallery.initial_activation, gallery.final_activation
    assert np.all(final > 0)
    assert np.all(final >= np.maximum(5 * initial, np.abs(initial)))
    assert np.all(final[initial > 0] >= 5 * initial[initial > 0]) and (initial > 0).sum() >= 4


def test_each_image_excites_its_own_channel_more_than_the_other_images_do(embedded_model, gallery):
    table = filters.unit_activations(embedded_model, LAYER, gallery.images)[:, :16]  # image x channel
    assert np.array_equal(np.argmax(table, axis=0), np.arange(16))


def test_same_seed_same_picture_other_seed_another(embedded_model, gallery):
    again = filters.visualise_filters(embedded_model, LAYER, list(range(16)), QUICK)
    np.testing.assert_array_equal(again.images, gallery.images)
    other = filters.visualise_filters(embedded_model, LAYER, [0, 1], filters.FilterSettings(steps=64, size=64, seed=1))
    assert np.abs(other.images[:2].astype(int) - gallery.images[:2].astype(int)).mean() > 10


def test_neuron_objective_excites_the_centre_unit(embedded_model):
    settings = filters.FilterSettings(steps=48, size=64, objective="neuron", parameterization="pixel", learning_rate=0.1)
    result = filters.visualise_filters(embedded_model, LAYER, [2, 5], settings)
    initial, final = result.initial_activation, result.final_activation
    assert np.all(final > 0) and np.all(final >= np.maximum(5 * initial, np.abs(initial)))


def test_diversity_makes_the_images_of_a_channel_less_alike(embedded_model):
    def gram_similarity(weight):
        settings = filters.FilterSettings(steps=48, size=64, images_per_channel=2, diversity_weight=weight)
        result = filters.visualise_filters(embedded_model, LAYER, [6], settings)
        maps = filters.layer_outputs(embedded_model, (LAYER,), result.images.astype(np.float32) / 255)[LAYER]
        grams = [(m.reshape(-1, m.shape[-1]).T @ m.reshape(-1, m.shape[-1])).ravel() for m in maps]
        return grams[0] @ grams[1] / np.linalg.norm(grams[0]) / np.linalg.norm(grams[1])

    assert gram_similarity(200.0) < gram_similarity(0.0) - 0.02


def test_summary_is_json_with_the_parameters_and_seed(gallery):
    summary = json.loads(json.dumps(gallery.summary()))
    assert summary["layer"] == LAYER and summary["channels"] == list(range(16))
    assert summary["parameters"]["seed"] == 0 and summary["parameters"]["steps"] == 64
    assert len(summary["final_activation"]) == 16 and summary["seconds"] > 0
    assert summary["images"][3]["channel"] == 3


@pytest.mark.parametrize("text, expected", [("0-3", [0, 1, 2, 3]), ("5, 1,2-3", [5, 1, 2, 3]), ("7", [7]), ("1,1,2", [1, 2])])
def test_channel_lists(text, expected):
    assert filters.parse_channels(text, 40) == expected


@pytest.mark.parametrize("text, message", [
    ("0-40", "Channel 40 does not exist"), ("a-b", "Could not read channels"), ("9-3", "runs backwards"), ("", "at least one"),
])
def test_bad_channel_lists_say_why(text, message):
    with pytest.raises(VizcoreError, match=message):
        filters.parse_channels(text, 40)


@pytest.mark.parametrize("settings, message", [
    (filters.FilterSettings(size=4096), "Image size must be between"),
    (filters.FilterSettings(steps=100000), "Steps must be between"),
    (filters.FilterSettings(objective="dream"), "Unknown objective"),
    (filters.FilterSettings(images_per_channel=9), "Images per channel"),
])
def test_requests_over_the_caps_are_refused(embedded_model, settings, message):
    with pytest.raises(VizcoreError, match=message):
        filters.visualise_filters(embedded_model, LAYER, [0], settings)


def test_too_many_images_in_one_run_is_refused(embedded_model):
    with pytest.raises(VizcoreError, match="limit is 64"):
        filters.visualise_filters(embedded_model, LAYER, list(range(33)), filters.FilterSettings(images_per_channel=2))


def test_a_long_gallery_stops_at_its_time_cap(embedded_model):
    gallery = filters.visualise_filters(
        embedded_model, LAYER, [0, 1], filters.FilterSettings(steps=filters.MAX_STEPS, size=32), max_seconds=0.5,
    )
    assert gallery.stopped and 1 <= gallery.steps_done < filters.MAX_STEPS
    assert gallery.images.shape == (2, 32, 32, 3)


def test_the_default_progressive_recipe_matches_the_former_one_at_a_fraction_of_the_work(embedded_model):
    """Former default: 256 steps, all at full size. The default's 80 half-size steps cost about a quarter each."""
    channels = list(range(8))
    former = filters.visualise_filters(embedded_model, LAYER, channels,
                                       filters.FilterSettings(steps=256, size=64, decay=1.0, coarse_share=0.0))
    default = filters.visualise_filters(embedded_model, LAYER, channels, filters.FilterSettings(size=64))
    assert default.steps_done == 128 and default.images.shape == (8, 64, 64, 3)
    assert np.all(default.final_activation >= 0.9 * former.final_activation)


def test_the_schedule_starts_at_half_size_only_where_it_can():
    tile, full = filters.FilterSettings().stages()
    assert (tile.steps, tile.tile, full.steps, full.tile) == (80, 2, 48, 1)
    assert full.transforms == filters.FilterSettings().transforms(0.35)  # gentler moves once the layout is set
    for settings, any_size in [(filters.FilterSettings(coarse_share=0.0), True), (filters.FilterSettings(size=99), True),
                               (filters.FilterSettings(), False)]:
        (only,) = settings.stages(any_size)
        assert only.steps == settings.steps and only.tile == 1 and only.transforms == settings.transforms()


CLASS_IMAGES = [285, 967]  # Egyptian cat, espresso


def test_class_images_are_seen_as_their_own_class(embedded_model):
    """Class model visualisation: the model's top-1 class for each image, as a photo, is the class it was rendered for."""
    import vizcore

    settings = filters.FilterSettings(objective="class", steps=16, size=224)  # the model's input size, as the CLI and app open
    gallery = filters.visualise_classes(embedded_model, CLASS_IMAGES, settings)
    assert gallery.images.shape == (2, 224, 224, 3) and gallery.steps_done == 16
    assert [vizcore.top_predictions(embedded_model, image, 1)[0].index for image in gallery.images] == CLASS_IMAGES
    assert [top[0] for top in gallery.predicted] == CLASS_IMAGES
    assert np.all(gallery.final_activation > gallery.initial_activation + 10)  # logits, from about 0 on grey
    summary = json.loads(json.dumps(gallery.summary()))
    assert summary["objective"] == "class" and summary["classes"] == CLASS_IMAGES
    assert [row["label"] for row in summary["images"]] == ["Egyptian cat", "espresso"]


@pytest.mark.parametrize("text, expected", [("285, 967", [285, 967]), ("Egyptian cat,espresso", [285, 967]), ("tabby", [281])])
def test_class_lists_by_name_or_index(embedded_model, text, expected):
    assert filters.parse_classes(text, embedded_model.class_names) == expected


@pytest.mark.parametrize("text, message", [("1000", "Class 1000 does not exist"), ("tabbby", "closest: tabby"), (" , ", "at least one class")])
def test_bad_class_lists_say_why(embedded_model, text, message):
    with pytest.raises(VizcoreError, match=message):
        filters.parse_classes(text, embedded_model.class_names)


def test_the_class_objective_takes_classes_not_channels(embedded_model):
    with pytest.raises(VizcoreError, match="one image per class"):
        filters.visualise_classes(embedded_model, [1], filters.FilterSettings(objective="class", images_per_channel=2))
    with pytest.raises(VizcoreError, match="use visualise_classes"):
        filters.visualise_filters(embedded_model, LAYER, [1], filters.FilterSettings(objective="class"))
