"""Class activation maps from a convolutional layer: Grad-CAM, Grad-CAM++, Score-CAM, guided Grad-CAM.

All work on the flat private copy of the model (see graph.py), so nested models work and the
shared model is never touched. Maps come back at the model input's resolution.

Every method takes ``contrast_class``: a contrastive map shows the evidence for the class against
that class. Grad-CAM and Grad-CAM++ take the gradient of the class's logit minus the other's
(``common.class_score``); Score-CAM weights each channel by how much it favours the class over the
other (see ``scorecam``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vizcore.attribution.common import (
    NO_CONTRAST, AttributionMap, Target, batches, choose_target, class_score, class_scores, image_batch,
    per_row_classes, softmax, upsample,
)
from vizcore.attribution.gradients import guided_backprop
from vizcore.attribution.methods import METHODS
from vizcore.models.graph import SCORE
from vizcore.models.layers import check_cam_layer, default_cam_layer
from vizcore.models.spec import LoadedModel

SCORECAM_MAX_CHANNELS = 256  # Score-CAM costs one forward pass per channel: the strongest ones only
SCORECAM_CHUNK = 32


def features_and_gradients(model, layer, batch, class_index, contrast_class=NO_CONTRAST):
    with tf.GradientTape() as tape:
        outputs = model(batch, training=False)
        features = outputs[layer]
        score = class_score(outputs[SCORE], class_index, contrast_class)
    return features, tape.gradient(score, features)


def _layer_and_target(loaded, pixels, layer, class_index, contrast_class) -> tuple[str, tf.Tensor, Target]:
    layer = check_cam_layer(loaded, layer) if layer else default_cam_layer(loaded)
    batch = image_batch(loaded, pixels)
    return layer, batch, choose_target(loaded, batch, class_index, contrast_class)


def _gradients(loaded, layer, batch, target: Target):
    view = loaded.derived.attribution((layer,))
    rows = (np.asarray(batch), *per_row_classes(1, target.class_index, target.contrast_class))
    features, gradients = loaded.batched(features_and_gradients, layer, rows=rows, view=view)
    return features[0], gradients[0]


def gradcam(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, layer: str | None = None,
    contrast_class: int | None = None,
) -> AttributionMap:
    """Grad-CAM: feature maps weighted by the spatial mean of the class score's gradient, then ReLU."""
    layer, batch, target = _layer_and_target(loaded, pixels, layer, class_index, contrast_class)
    features, gradients = _gradients(loaded, layer, batch, target)
    weights = gradients.mean(axis=(0, 1))
    cam = np.maximum((features * weights).sum(axis=-1), 0.0)
    return target.map("gradcam", upsample(cam, loaded.spec.input_size), layer=layer)


def gradcam_plus_plus(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, layer: str | None = None,
    contrast_class: int | None = None,
) -> AttributionMap:
    """Grad-CAM++ (Chattopadhay et al. 2018): per-position weights from higher-order gradient terms.

    With an exponential of the score, the second and third derivatives are powers of the first,
    so one gradient computation gives all three.
    """
    layer, batch, target = _layer_and_target(loaded, pixels, layer, class_index, contrast_class)
    features, gradients = _gradients(loaded, layer, batch, target)
    squared, cubed = gradients**2, gradients**3
    denominator = 2.0 * squared + features.sum(axis=(0, 1), keepdims=True) * cubed
    alpha = squared / np.where(denominator != 0.0, denominator, 1.0)
    weights = (alpha * np.maximum(gradients, 0.0)).sum(axis=(0, 1))
    cam = np.maximum((features * weights).sum(axis=-1), 0.0)
    return target.map("gradcam++", upsample(cam, loaded.spec.input_size), layer=layer)


def layer_features(model, layer, batch):
    return model(batch, training=False)[layer]


def scorecam(
    loaded: LoadedModel,
    pixels: np.ndarray,
    class_index: int | None = None,
    layer: str | None = None,
    max_channels: int = SCORECAM_MAX_CHANNELS,
    contrast_class: int | None = None,
) -> AttributionMap:
    """Score-CAM (Wang et al. 2020): each channel, as a mask on the image, weighted by the class probability it keeps.

    Costs one forward pass per channel, so only the ``max_channels`` most active channels are used.
    With ``contrast_class``, a channel's weight is the probability that the masked image is the
    class rather than the contrast class (the sigmoid of their logit difference), less one half:
    positive where the channel favours the class. (The difference of the two softmax
    probabilities barely differs from the plain map for close classes: Pearson 0.88 against the
    plain Egyptian cat map on chelsea, against tiger cat; this gives 0.73.)
    """
    METHODS["scorecam"].check({"max_channels": max_channels})
    layer, batch, target = _layer_and_target(loaded, pixels, layer, class_index, contrast_class)
    view = loaded.derived.attribution((layer,))
    features = loaded.batched(layer_features, layer, rows=(np.asarray(batch),), view=view)[0]
    size = loaded.spec.input_size
    chosen = np.argsort(-features.mean(axis=(0, 1)))[:max_channels]
    image = batch.numpy()[0]
    baseline = np.asarray(loaded.spec.preprocessing.to_model(np.zeros(3, np.float32)), np.float32)
    kept = np.zeros(len(chosen), np.float32)
    for start, end in batches(len(chosen), SCORECAM_CHUNK):
        masks = np.stack([upsample(features[:, :, channel], size) for channel in chosen[start:end]])
        low = masks.min(axis=(1, 2), keepdims=True)
        span = masks.max(axis=(1, 2), keepdims=True) - low
        masks = ((masks - low) / np.where(span > 0, span, 1.0))[..., None]
        masked = baseline + masks * (image - baseline)  # the image seen only through each mask, black elsewhere
        masked_scores = class_scores(loaded, masked)
        if target.contrast_class is None:
            kept[start:end] = softmax(masked_scores)[:, target.class_index]
        else:  # sigmoid(logit difference) - 1/2: the odds of the class over the contrast class, above even
            difference = masked_scores[:, target.class_index] - masked_scores[:, target.contrast_class]
            kept[start:end] = 0.5 * np.tanh(0.5 * difference)
    cam = np.maximum((features[:, :, chosen] * kept).sum(axis=-1), 0.0)
    details = {"channels_used": int(len(chosen)), "channels_in_layer": int(features.shape[-1])}
    return target.map("scorecam", upsample(cam, size), layer=layer, details=details)


def guided_gradcam(
    loaded: LoadedModel, pixels: np.ndarray, class_index: int | None = None, layer: str | None = None,
    contrast_class: int | None = None,
) -> AttributionMap:
    """Guided Grad-CAM: guided backpropagation's fine detail, kept where Grad-CAM is hot.

    ``values`` is the guided map times the Grad-CAM map (0..1); ``raw`` the signed guided
    gradient times the same Grad-CAM map (S x S x 3).
    """
    coarse = gradcam(loaded, pixels, class_index, layer, contrast_class)
    fine = guided_backprop(loaded, pixels, coarse.class_index, coarse.contrast_class)
    weight = coarse.normalised()
    return AttributionMap("guided-gradcam", coarse.class_index, coarse.label, coarse.probability, fine.values * weight,
                          coarse.layer, raw=fine.raw * weight[..., None], contrast_class=coarse.contrast_class,
                          contrast_label=coarse.contrast_label)
