"""The one owner of a loaded model's copies, views and traced functions: built once, bounded, gone with the model."""

import gc
import os

import keras
import numpy as np
import pytest

from vizcore import activations, attribution, filters, predictions
from vizcore.models import get_preprocessing
from vizcore.models.derived import ANY_SIZE, FOLDED, MAX_VIEWS, DerivedModels
from vizcore.models.inference import model_input
from vizcore.models.spec import LoadedModel, ModelSpec, Presets

# Leaking even one copy of the weights adds ~8.5 MB of RSS per model, every cycle. A clean run settles within
# the first ~5 models (steps of up to ~15 MB), then stays flat to ~0.5 MB: measure after that, as a slope.
START_UP_MODELS = 5
CYCLES = 8
MB_PER_MODEL_LIMIT = 2.0
CLASSES = 4000  # with 512 channels before the head: about 2.1 M parameters, 8 MB of weights


def _rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _eight_megabyte_model(seed: int) -> LoadedModel:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(512, 1, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax", name="head")(x))
    names = tuple(f"class {index}" for index in range(CLASSES))
    spec = ModelSpec("eight_mb", "8 MB", lambda: model, 32, get_preprocessing("unit"), lambda: names,
                     Presets(("conv2",), "conv2", {"conv2": 1.0}, ("conv1",), "conv2"))
    return LoadedModel(spec, model)


def _use_everywhere(loaded: LoadedModel, pixels: np.ndarray) -> None:
    """What the pages do with a model: predictions, a CAM, gradients, a layer's maps, a filter gallery."""
    predictions.top_predictions(loaded, pixels, 3)
    attribution.gradcam(loaded, pixels)
    attribution.guided_backprop(loaded, pixels)
    activations.layer_activations(loaded, pixels, "conv1")
    filters.visualise_filters(loaded, "conv2", [0, 1], filters.FilterSettings(steps=2, size=32))


def test_a_dropped_model_takes_its_copies_views_and_traces_with_it():
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    weights_mb = sum(np.prod(w.shape) * 4 for w in _eight_megabyte_model(0).keras_model.weights) / 2**20
    assert 7.5 < weights_mb < 9, weights_mb  # the claim is about models of this size
    for seed in range(START_UP_MODELS):  # TensorFlow's and Keras's one-off start-up allocations
        _use_everywhere(_eight_megabyte_model(seed), pixels)
        gc.collect()
    rss_mb = [_rss_mb()]
    for seed in range(START_UP_MODELS, START_UP_MODELS + CYCLES):
        _use_everywhere(_eight_megabyte_model(seed), pixels)
        rss_mb.append(_rss_mb())  # collects first, as a server would between visitors: what stays, not the peak
    per_model = np.polyfit(np.arange(CYCLES + 1), rss_mb, 1)[0]  # MB per model, the least-squares slope
    assert per_model <= MB_PER_MODEL_LIMIT, f"{per_model:.2f} MB stayed behind per dropped {weights_mb:.1f} MB model"


def test_copies_are_built_once_and_views_share_their_weights(embedded_model):
    original = [w.copy() for w in embedded_model.keras_model.get_weights()]
    derived = embedded_model.derived
    folded = derived.copy(FOLDED)
    assert derived.copy(FOLDED) is folded
    view = derived.attribution(("head_relu",))
    assert derived.attribution(("head_relu",)) is view
    assert {id(w) for w in view.model.weights} <= {id(w) for w in folded.weights}  # a view, not another copy
    assert not {id(w) for w in folded.weights} & {id(w) for w in embedded_model.keras_model.weights}
    features = derived.features(("stage4_block3_add",))
    assert {id(w) for w in features.model.weights} <= {id(w) for w in derived.copy(ANY_SIZE).weights}
    for before, after in zip(original, embedded_model.keras_model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_views_are_bounded_least_recently_used_first(nested_loaded):
    derived = DerivedModels(nested_loaded.keras_model, max_views=3)
    first = derived.extractor("base_conv1")
    for layer in ("base_bn", "base_relu"):
        derived.extractor(layer)
    assert derived.extractor("base_conv1") is first  # used again: now the most recent
    derived.extractor("base_conv2")
    assert len(derived) == 3
    assert derived.extractor("base_conv1") is first
    assert derived.extractor("base_bn") is not None and len(derived) == 3
    assert MAX_VIEWS >= 4  # Grad-CAM, the explorer and the gallery in use at once keep their views


def test_a_layer_a_batch_norm_was_folded_into_is_read_exactly(embedded_model, chelsea):
    """A convolution followed by a batch norm changes in the folded copy: views of it come from an exact copy."""
    layer = "stage4_block3_project_conv"
    expected = activations.layer_activations(embedded_model, chelsea, layer)
    outputs = embedded_model.derived.attribution((layer,)).model(model_input(embedded_model, chelsea))
    np.testing.assert_allclose(np.asarray(outputs[layer])[0], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    features = embedded_model.derived.features((layer,)).model(model_input(embedded_model, chelsea))
    np.testing.assert_allclose(np.asarray(features[layer])[0], expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_traces_live_on_the_model_not_in_the_module(embedded_model, chelsea):
    predictions.class_probabilities(embedded_model, chelsea)
    counts = embedded_model.derived.tracing_counts()
    assert counts["forward"] >= 1
    other = LoadedModel(embedded_model.spec, embedded_model.keras_model)
    assert other.derived.tracing_counts() == {}  # a new owner starts with no traces of its own
    with pytest.raises(KeyError):
        other.derived.tracing_counts()["forward"]


def test_the_scores_view_gives_the_models_logits_at_any_size(embedded_model, chelsea):
    """Class visualisation reads the scores before the softmax from the folded whole network, at any image size."""
    from vizcore.models.graph import SCORE

    batch = model_input(embedded_model, chelsea)
    scored = embedded_model.derived.features((SCORE, "stage4_block3_add"))
    logits = np.asarray(scored.model(batch)[SCORE])[0]
    probabilities = predictions.class_probabilities(embedded_model, chelsea)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()  # the softmax the model applies
    np.testing.assert_allclose(expected, probabilities, atol=1e-4)
    smaller = scored.model(batch[:, ::2, ::2])  # 112 px: the head pools whatever the map's size
    assert smaller[SCORE].shape == (1, 1000) and smaller["stage4_block3_add"].shape[1:3] == (7, 7)
