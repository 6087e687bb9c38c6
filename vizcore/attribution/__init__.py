"""Why the model decided: attribution maps for one image and class, and how faithful each map is.

``explain(model, pixels, method)`` runs any method by its CLI name; every map is S x S float32 at
the model input's resolution. One module per family: ``gradients`` (saliency, SmoothGrad,
guided backpropagation), ``path_integrals`` (Integrated Gradients), ``occlusion_sensitivity``,
``cam`` (Grad-CAM, Grad-CAM++, Score-CAM, guided Grad-CAM), ``deletion_insertion`` (how faithful a map is),
``sanity`` (whether a map changes when the model's top layers are re-initialised); the ``methods`` table holds every method's title, options and ranges. They run on
views of the flat model copy that ``vizcore.models.derived`` keeps per model, which is what makes
nested models work and keeps the shared model unchanged.
"""

from __future__ import annotations

import importlib

from vizcore.attribution.methods import METHODS as METHOD_TABLE
from vizcore.errors import VizcoreError

# Where each method and export lives. Loaded on first use, so importing the method table (the
# CLI's --help, a page's widgets) does not start TensorFlow. No module is named like a function
# it exports: importing a submodule sets the package attribute of its name to the module.
_FUNCTIONS = {
    "occlusion": ("vizcore.attribution.occlusion_sensitivity", "occlusion"),
    "saliency": ("vizcore.attribution.gradients", "saliency"),
    "smoothgrad": ("vizcore.attribution.gradients", "smoothgrad"),
    "ig": ("vizcore.attribution.path_integrals", "integrated_gradients"),
    "guided": ("vizcore.attribution.gradients", "guided_backprop"),
    "gradcam": ("vizcore.attribution.cam", "gradcam"),
    "gradcam++": ("vizcore.attribution.cam", "gradcam_plus_plus"),
    "scorecam": ("vizcore.attribution.cam", "scorecam"),
    "guided-gradcam": ("vizcore.attribution.cam", "guided_gradcam"),
}
_EXPORTS = {
    **{attribute: module for module, attribute in _FUNCTIONS.values()},
    "AttributionMap": "vizcore.attribution.common",
    "FaithfulnessCurves": "vizcore.attribution.deletion_insertion",
    "faithfulness": "vizcore.attribution.deletion_insertion",
    "RankedMethod": "vizcore.attribution.deletion_insertion",
    "rank_methods": "vizcore.attribution.deletion_insertion",
    "kendall_tau": "vizcore.attribution.deletion_insertion",
    "patch_positions": "vizcore.attribution.occlusion_sensitivity",
    "SanityCheck": "vizcore.attribution.sanity",
    "sanity_check": "vizcore.attribution.sanity",
    "cam_caveat": "vizcore.attribution.sanity",
    "default_cam_layer": "vizcore.models.layers",
    "spatial_layer_names": "vizcore.models.layers",
}
LAYER_METHODS = tuple(name for name, method in METHOD_TABLE.items() if method.needs_layer)
METHOD_TITLES = {name: method.title for name, method in METHOD_TABLE.items()}


def method_function(name: str):
    """The function behind a method's name in the table (``"ig"`` -> ``integrated_gradients``)."""
    if name not in _FUNCTIONS:
        raise VizcoreError(f"Unknown method {name!r}: choose one of {', '.join(METHOD_TABLE)}.")
    module, attribute = _FUNCTIONS[name]
    return getattr(importlib.import_module(module), attribute)


def explain(
    loaded, pixels, method: str, class_index: int | None = None, layer: str | None = None,
    contrast_class: int | None = None, **options,
):
    """The ``method`` map (an AttributionMap) for RGB uint8 ``pixels`` and ``class_index`` (top-1 when None).

    ``layer`` applies to the CAM methods (default: the model's Grad-CAM layer); ``contrast_class``
    to the methods the table marks ``contrastive``: the map then shows the evidence for
    ``class_index`` against that class. ``options`` are the method's own keyword arguments
    (``patch``, ``samples``, ``steps``, ``baseline``...).
    """
    function = method_function(method)
    if contrast_class is not None:
        if not METHOD_TABLE[method].contrastive:
            takes = ", ".join(METHOD_TITLES[name] for name, row in METHOD_TABLE.items() if row.contrastive)
            raise VizcoreError(f"{METHOD_TITLES[method]} has no contrastive map: {takes} do.")
        options["contrast_class"] = contrast_class
    if method in LAYER_METHODS:
        return function(loaded, pixels, class_index, layer, **options)
    return function(loaded, pixels, class_index, **options)


def __getattr__(name):
    if name == "METHODS":
        return {method: method_function(method) for method in METHOD_TABLE}
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vizcore.attribution' has no attribute {name!r}")


__all__ = [
    "LAYER_METHODS", "METHODS", "METHOD_TABLE", "METHOD_TITLES", "explain", "method_function", *_EXPORTS,
]
