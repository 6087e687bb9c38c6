import numpy as np

from vizcore import predictions
from vizcore.images import fit_to_model
from vizcore.models.inference import model_input


def test_model_input_is_the_preprocessed_crop(embedded_model, chelsea):
    batch = model_input(embedded_model, chelsea)
    assert batch.shape == (1, 224, 224, 3) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0] * 128 + 127, fit_to_model(chelsea, 224), atol=1e-3)


def test_forward_is_traced_once_for_many_images(embedded_model):
    rng = np.random.default_rng(2)
    predictions.class_probabilities(embedded_model, rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    before = embedded_model.derived.tracing_counts()["forward"]
    for height, width in ((100, 120), (640, 480), (224, 224), (50, 900)):
        predictions.class_probabilities(embedded_model, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    assert embedded_model.derived.tracing_counts()["forward"] == before
