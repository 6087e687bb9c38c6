"""vizcore: see what an image CNN has learned and why it decides what it does.

Notebook use::

    import vizcore
    model = vizcore.load_model()                  # embedded EfficientNet-Lite0, offline
    pixels = vizcore.load_sample("chelsea")        # H x W x 3 uint8 RGB
    vizcore.top_predictions(model, pixels, top_k=5)

Every function takes RGB uint8 pixels and returns numpy arrays or plain dataclasses. The names
below load on first use, so ``import vizcore`` (and ``python -m vizcore --help``) stays quick and
TensorFlow starts only when a model is needed.
"""

import importlib

from vizcore.errors import VizcoreError

_EXPORTS = {
    "SAMPLE_NAMES": "vizcore.images",
    "decode_image": "vizcore.images",
    "load_sample": "vizcore.images",
    "DEFAULT_MODEL": "vizcore.models",
    "MODELS": "vizcore.models",
    "get_spec": "vizcore.models",
    "load_model": "vizcore.models",
    "Prediction": "vizcore.predictions",
    "class_probabilities": "vizcore.predictions",
    "top_predictions": "vizcore.predictions",
}

__all__ = ["VizcoreError", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vizcore' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
