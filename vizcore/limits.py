"""Caps on long work, so one request cannot hold a shared server: each can be set by whoever runs it.

| environment variable          | what it caps                                                 | default |
| VIZCORE_MAX_SECONDS           | wall time of one filter gallery, DeepDream, style or attack run | 600   |
| VIZCORE_MAX_STEPS             | optimisation steps of one run (DeepDream: over all octaves; PGD steps) | 2000 |
| VIZCORE_MAX_DREAM_MEGAPIXELS  | pixels of a DeepDream image (its largest octave)              | 1.05    |
| VIZCORE_MAX_MAP_POINTS        | points a t-SNE or UMAP map is fitted on (the rest placed near them) | 2000 |
| VIZCORE_MAX_DATASET_UPLOAD_MB | a zip of images uploaded to the Dataset explorer (also capped by Streamlit's maxUploadSize) | 200 |
| VIZCORE_MAX_RAY_ACTORS        | model workers one Dataset explorer build may ask of Ray (when the page offers Ray) | 2 |

A run that reaches the time cap stops as if its Stop button had been pressed and keeps what it
has; a request over the step or pixel caps is refused with a sentence before any work starts.
"""

from __future__ import annotations

import os

from vizcore.errors import VizcoreError


def _positive_number(variable: str, default: float) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise VizcoreError(f"{variable} must be a number above 0, not {text!r}.")
    return value


MAX_SECONDS = _positive_number("VIZCORE_MAX_SECONDS", 600.0)
MAX_STEPS = int(_positive_number("VIZCORE_MAX_STEPS", 2000))
MAX_DREAM_PIXELS = int(_positive_number("VIZCORE_MAX_DREAM_MEGAPIXELS", 1024 * 1024 / 1e6) * 1e6)
MAX_MAP_FITTED_POINTS = int(_positive_number("VIZCORE_MAX_MAP_POINTS", 2000))
MAX_DATASET_UPLOAD_BYTES = int(_positive_number("VIZCORE_MAX_DATASET_UPLOAD_MB", 200) * 2**20)
MAX_RAY_ACTORS = int(_positive_number("VIZCORE_MAX_RAY_ACTORS", 2))
