"""Top-k ImageNet predictions for one image, and the image as the model sees it."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.models.inference import run_on_image, softmax
from vizcore.models.spec import LoadedModel


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    probability: float

    def as_dict(self) -> dict:
        return asdict(self)


def class_probabilities(loaded: LoadedModel, pixels: np.ndarray) -> np.ndarray:
    """Class probabilities (0..1, float32) for one image.

    A model whose output has values outside 0..1 ends in logits (common for a fine-tuned model
    trained with ``from_logits=True``): those get a softmax. Softmax and sigmoid outputs pass as they are.
    """
    output = run_on_image(loaded, pixels)
    if output.min() < 0.0 or output.max() > 1.0:
        return softmax(output).astype(np.float32)
    return output


def top_predictions(loaded: LoadedModel, pixels: np.ndarray, top_k: int = 5) -> list[Prediction]:
    """The ``top_k`` most probable classes for RGB uint8 ``pixels``, highest first."""
    probabilities = class_probabilities(loaded, pixels)
    if not 1 <= top_k <= probabilities.shape[0]:
        raise VizcoreError(f"Top-k must be between 1 and {probabilities.shape[0]}, not {top_k}.")
    names = loaded.class_names
    order = np.argsort(probabilities)[::-1][:top_k]
    return [Prediction(int(index), names[index], float(probabilities[index])) for index in order]


CSV_COLUMNS = ("rank", "index", "label", "probability")


def predictions_record(predictions: list[Prediction], parameters: dict) -> dict:
    """The JSON download: what produced the result (model, image, top_k...) and the ranked classes."""
    return {
        "parameters": parameters,
        "predictions": [dict(rank=rank, **p.as_dict()) for rank, p in enumerate(predictions, start=1)],
    }


def predictions_csv(predictions: list[Prediction], parameters: dict) -> str:
    """The CSV download: one row per class, with the parameters repeated as trailing columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, *parameters])
    for row in predictions_record(predictions, parameters)["predictions"]:
        writer.writerow([*(row[column] for column in CSV_COLUMNS), *parameters.values()])
    return buffer.getvalue()
