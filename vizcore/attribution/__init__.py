"""Why the model decided: attribution maps for one image and class, and how faithful each map is.

``explain(model, pixels, method)`` runs any method by its CLI name; every map is S x S float32 at
the model input's resolution. One module per family: ``gradients`` (saliency, SmoothGrad,
Integrated Gradients, guided backpropagation), ``occlusion``, ``cam`` (Grad-CAM, Grad-CAM++,
Score-CAM, guided Grad-CAM), ``faithfulness`` (deletion and insertion curves). They run on
views of the flat model copy that ``vizcore.models.derived`` keeps per model, which is what makes
nested models work and keeps the shared model unchanged.
"""

from __future__ import annotations

import numpy as np

from vizcore.attribution.cam import gradcam, gradcam_plus_plus, guided_gradcam, scorecam
from vizcore.attribution.common import AttributionMap
from vizcore.attribution.faithfulness import FaithfulnessCurves, faithfulness
from vizcore.attribution.gradients import guided_backprop, integrated_gradients, saliency, smoothgrad
from vizcore.attribution.methods import METHODS as METHOD_TABLE
from vizcore.attribution.occlusion import occlusion, patch_positions
from vizcore.errors import VizcoreError
from vizcore.models.layers import default_cam_layer, spatial_layer_names
from vizcore.models.spec import LoadedModel

# The functions behind the method table's names (vizcore/attribution/methods.py: titles, options, ranges).
_FUNCTIONS = {
    "occlusion": occlusion,
    "saliency": saliency,
    "smoothgrad": smoothgrad,
    "ig": integrated_gradients,
    "guided": guided_backprop,
    "gradcam": gradcam,
    "gradcam++": gradcam_plus_plus,
    "scorecam": scorecam,
    "guided-gradcam": guided_gradcam,
}
METHODS = {name: _FUNCTIONS[name] for name in METHOD_TABLE}
LAYER_METHODS = tuple(name for name, method in METHOD_TABLE.items() if method.needs_layer)
METHOD_TITLES = {name: method.title for name, method in METHOD_TABLE.items()}


def explain(
    loaded: LoadedModel, pixels: np.ndarray, method: str, class_index: int | None = None, layer: str | None = None,
    **options,
) -> AttributionMap:
    """The ``method`` map for RGB uint8 ``pixels`` and ``class_index`` (top-1 when None).

    ``layer`` applies to the CAM methods (default: the model's Grad-CAM layer); ``options`` are
    the method's own keyword arguments (``patch``, ``samples``, ``steps``, ``baseline``...).
    """
    if method not in METHODS:
        raise VizcoreError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
    if method in LAYER_METHODS:
        return METHODS[method](loaded, pixels, class_index, layer, **options)
    return METHODS[method](loaded, pixels, class_index, **options)


__all__ = [
    "LAYER_METHODS", "METHODS", "METHOD_TABLE", "METHOD_TITLES", "AttributionMap", "FaithfulnessCurves", "default_cam_layer",
    "explain",
    "faithfulness", "gradcam", "gradcam_plus_plus", "guided_backprop", "guided_gradcam", "integrated_gradients",
    "occlusion", "patch_positions", "saliency", "scorecam", "smoothgrad", "spatial_layer_names",
]
