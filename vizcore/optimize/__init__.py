"""Optimising images against a model: the shared machinery of the filter gallery (channels and classes), DeepDream,
style transfer, feature inversion and texture synthesis.

``objectives`` says what to maximise, ``parameterization`` how the image is represented,
``transforms`` which random changes each step must survive, and ``render`` ties them together.
"""

from vizcore.optimize.objectives import (
    CHANNELS, CLASSES, TERM, CentreNeuron, ChannelMean, ClassLogit, Context, Diversity, FeatureDistance, GramDistance,
    L2, LayerMean, Objective, TermPerImage, TotalVariation, feature_target, gram_matrices, gram_target,
)
from vizcore.optimize.parameterization import PARAMETERIZATIONS, FourierImage, PixelImage, pixel_parameters
from vizcore.optimize.loop import Progress, RenderResult, Stage, feature_model, feature_view, layer_outputs, render
from vizcore.optimize.transforms import STANDARD_TRANSFORMS, Jitter, Rotate, Scale, apply_transforms

__all__ = [
    "CHANNELS", "CLASSES", "PARAMETERIZATIONS", "STANDARD_TRANSFORMS", "TERM", "CentreNeuron", "ChannelMean",
    "ClassLogit", "Context", "Diversity", "TermPerImage",
    "FeatureDistance", "FourierImage", "GramDistance", "Jitter", "L2", "LayerMean", "Objective", "PixelImage",
    "Progress", "RenderResult", "Rotate", "Scale", "Stage", "TotalVariation", "apply_transforms", "feature_model", "feature_view",
    "feature_target", "gram_matrices", "gram_target", "layer_outputs", "pixel_parameters", "render",
]
