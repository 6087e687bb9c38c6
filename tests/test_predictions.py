import keras
import numpy as np
import pytest

from vizcore import predictions
from vizcore.errors import VizcoreError
from vizcore.images import fit_to_model
from vizcore.models import LoadedModel, ModelSpec, Presets, get_preprocessing
from vizcore.models.inference import run_on_image

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug


def test_chelsea_is_a_cat(embedded_model, chelsea):
    top = predictions.top_predictions(embedded_model, chelsea, top_k=5)
    assert top[0].index in CAT_CLASSES
    assert sum(p.probability for p in top if p.index in CAT_CLASSES) > 0.5


def test_coffee_is_espresso_or_a_cup(embedded_model, coffee):
    top = predictions.top_predictions(embedded_model, coffee, top_k=3)
    assert top[0].index in COFFEE_CLASSES
    assert top[0].label == embedded_model.class_names[top[0].index]


def test_predictions_are_sorted_probabilities(embedded_model, chelsea):
    top = predictions.top_predictions(embedded_model, chelsea, top_k=10)
    probabilities = [p.probability for p in top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert len({p.index for p in top}) == 10
    full = predictions.class_probabilities(embedded_model, chelsea)
    assert full.shape == (1000,) and abs(float(full.sum()) - 1.0) < 1e-4
    assert probabilities[0] == pytest.approx(float(full.max()))


@pytest.mark.parametrize("top_k", [0, 1001])
def test_top_k_out_of_range_is_a_clear_error(embedded_model, chelsea, top_k):
    with pytest.raises(VizcoreError, match="between 1 and 1000"):
        predictions.top_predictions(embedded_model, chelsea, top_k=top_k)


def test_any_image_size_is_accepted(embedded_model):
    wide = np.random.default_rng(0).integers(0, 256, (8, 2000, 3), dtype=np.uint8)
    assert predictions.class_probabilities(embedded_model, wide).shape == (1000,)


def test_lite_preprocessing_beats_torch_normalisation(embedded_model, chelsea, coffee):
    """(x - 127) / 128 is the checkpoint's own preprocessing: the true classes get more mass than with mean/std."""
    model = embedded_model.keras_model
    torch_mode = get_preprocessing("torch")
    for pixels, true_classes in ((chelsea, list(CAT_CLASSES)), (coffee, [967])):
        fitted = fit_to_model(pixels, 224).astype(np.float32)
        with_lite = np.asarray(model(embedded_model.spec.preprocessing.to_model(fitted)[None]))[0]
        with_torch = np.asarray(model(torch_mode.to_model(fitted)[None].astype(np.float32)))[0]
        assert with_lite[true_classes].sum() > with_torch[true_classes].sum()


def test_downloads_carry_the_parameters(embedded_model, chelsea):
    top = predictions.top_predictions(embedded_model, chelsea, top_k=3)
    parameters = {"model": "efficientnet_lite0", "image": "sample:chelsea", "top_k": 3}
    record = predictions.predictions_record(top, parameters)
    assert record["parameters"] == parameters
    assert [row["rank"] for row in record["predictions"]] == [1, 2, 3]
    lines = predictions.predictions_csv(top, parameters).strip().splitlines()
    assert lines[0] == "rank,index,label,probability,model,image,top_k"
    assert len(lines) == 4 and lines[1].startswith(f"1,{top[0].index},{top[0].label},")
    assert lines[1].endswith(",efficientnet_lite0,sample:chelsea,3")


def _tiny_classifier(activation: str) -> LoadedModel:
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    dense = keras.layers.Dense(3, activation=activation, kernel_initializer=keras.initializers.RandomNormal(stddev=20.0))
    model = keras.Model(inputs, dense(features))
    spec = ModelSpec("tiny", "Tiny", lambda: model, 16, get_preprocessing("unit"), lambda: ("a", "b", "c"),
                     Presets(("conv",), "conv", {}, (), "conv"))
    return LoadedModel(spec, model)


def test_a_model_that_ends_in_logits_still_gets_probabilities():
    pixels = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    logits_model = _tiny_classifier("linear")
    logits = run_on_image(logits_model, pixels)
    assert logits.min() < 0 or logits.max() > 1  # the test needs real logits to mean anything
    probabilities = predictions.class_probabilities(logits_model, pixels)
    assert np.isclose(probabilities.sum(), 1.0, atol=1e-5) and probabilities.min() >= 0
    assert np.argmax(probabilities) == np.argmax(logits)


def test_sigmoid_outputs_are_left_as_they_are():
    pixels = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    loaded = _tiny_classifier("sigmoid")
    np.testing.assert_array_equal(predictions.class_probabilities(loaded, pixels), run_on_image(loaded, pixels))
