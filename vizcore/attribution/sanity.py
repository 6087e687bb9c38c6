"""Sanity checks for attribution maps (Adebayo et al. 2018): does a map change when the weights it explains are destroyed?

The cascading model-parameter randomisation test. The map is recomputed, for the same image,
class and layer, on copies of the model whose top layers are re-initialised, cascading from the
logits down one block at a time (on the embedded model: logits; + head; + stage7_block1; +
stage6_block4), and each is compared with the original by Spearman rank correlation. A map that
still looks the same once the learned weights above it are gone cannot be explaining what those
weights learned; it shows something else (edges, the input itself).

The randomised copies are clones of the model, never the shared model itself: each is wrapped in
a LoadedModel that shares the spec and class names, so every method runs on it unchanged, and the
copies are kept (a few per model, bounded) in the original's ``derived``, so repeated checks reuse
their weights and traced functions and they die with the model.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import keras
import numpy as np

from vizcore.attribution import explain
from vizcore.attribution.common import AttributionMap
from vizcore.attribution.methods import get_method
from vizcore.errors import VizcoreError
from vizcore.models.derived import MAX_RANDOMISED
from vizcore.models.graph import all_layers
from vizcore.models.layers import block_of, spatial_layer_names
from vizcore.models.spec import LoadedModel

DEFAULT_DEPTHS = 4  # blocks randomised at the deepest step: each depth costs one more map
MAX_DEPTHS = MAX_RANDOMISED  # every depth's copy stays cached, so repeated checks build nothing new
SEED = 0
# A map passes when its Spearman correlation with the original is below this at the deepest
# randomisation: the two rankings then share under a quarter of their variance (r squared), so
# most of the map's order came from the destroyed weights.
PASS_THRESHOLD = 0.5


@dataclass(frozen=True)
class SanityCheck:
    """The randomisation test of one map.

    ``correlations`` has one row per depth, shallowest first: ``{"randomised": [layer names,
    cumulative], "spearman": r}`` with r in -1..1 (1: the same ranking as the original map).
    ``passes`` is True when the deepest r is below ``threshold``. ``seconds`` is the wall time of
    the randomised maps (building the randomised copies too, the first time), not the original's.
    """

    method: str
    class_index: int
    label: str
    layer: str | None
    correlations: list[dict]
    passes: bool
    threshold: float
    seconds: float
    contrast_class: int | None = None  # the class a contrastive map's evidence is against, else None

    def summary(self) -> dict:
        return {
            "method": self.method,
            "class_index": self.class_index,
            "label": self.label,
            "layer": self.layer,
            "contrast_class": self.contrast_class,
            "correlations": self.correlations,
            "passes": self.passes,
            "threshold": self.threshold,
            "seconds": round(self.seconds, 2),
        }


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps of one shape (ties get their average rank), -1..1.

    A constant map has no ranking left to agree with: it counts as 0.
    """
    first_ranks, second_ranks = _ranks(np.ravel(first)), _ranks(np.ravel(second))
    first_ranks -= first_ranks.mean()
    second_ranks -= second_ranks.mean()
    scale = np.sqrt((first_ranks**2).sum() * (second_ranks**2).sum())
    return float((first_ranks * second_ranks).sum() / scale) if scale > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as scipy.stats.rankdata)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - (counts - 1) / 2.0)[inverse]).astype(np.float64)


def randomisation_depths(loaded: LoadedModel, depths: int = DEFAULT_DEPTHS) -> list[tuple[str, ...]]:
    """The cascade: layers to re-initialise at each depth, cumulative, from the logits down.

    Layers with weights are grouped into blocks by name (``stage6_block4_*`` is one block, see
    ``layers.block_of``), last block first; depth d randomises the top d blocks. A model with
    fewer blocks gets fewer depths.
    """
    blocks: list[list[str]] = []
    for layer in reversed(list(all_layers(loaded.keras_model))):
        if not layer.weights:
            continue
        if blocks and block_of(blocks[-1][-1]) == block_of(layer.name):
            blocks[-1].append(layer.name)
        elif len(blocks) < depths:
            blocks.append([layer.name])
        else:
            break
    cascade, randomised = [], []
    for block in blocks:
        randomised = randomised + block
        cascade.append(tuple(randomised))
    return cascade


def randomised_model(loaded: LoadedModel, layers: tuple[str, ...], seed: int = SEED) -> LoadedModel:
    """``loaded`` with ``layers`` re-initialised by their own initializers under ``seed``; kept in ``loaded.derived``."""
    return loaded.derived.randomised(("randomised", tuple(layers), seed), lambda: _randomised(loaded, layers, seed))


def _randomised(loaded: LoadedModel, layers: tuple[str, ...], seed: int) -> LoadedModel:
    # Fresh layers, not the shared model's: calling a shared layer in a new graph adds nodes to it,
    # which would change how the shared model is copied and folded later.
    source = loaded.keras_model
    clone = keras.models.clone_model(source, recursive=True)
    clone.set_weights(source.get_weights())
    chosen = set(layers)
    for layer in all_layers(clone):
        if layer.name in chosen:
            _reinitialise(layer, seed)
    return LoadedModel(loaded.spec, clone)


def _reinitialise(layer, seed: int) -> None:
    """Give ``layer`` the weights a fresh copy of it starts with, every random initializer seeded per layer."""
    config = layer.get_config()
    layer_seed = zlib.crc32(f"{seed}:{layer.name}".encode())
    for name, value in config.items():
        if name.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
            seeded = (layer_seed + zlib.crc32(name.encode())) % 2**31
            config[name] = {**value, "config": {**value["config"], "seed": seeded}}
    fresh = layer.__class__.from_config(config)
    fresh.build(layer.input.shape)
    layer.set_weights(fresh.get_weights())


def sanity_check(
    loaded: LoadedModel,
    pixels: np.ndarray,
    method: str,
    class_index: int | None = None,
    layer: str | None = None,
    contrast_class: int | None = None,
    depths: int = DEFAULT_DEPTHS,
    original: AttributionMap | None = None,
    weights_seed: int = SEED,
    **options,
) -> SanityCheck:
    """The cascading randomisation test of the ``method`` map for RGB uint8 ``pixels`` and ``class_index``.

    ``class_index`` None explains the top-1 class; ``layer`` (CAM methods), ``contrast_class`` and
    ``options`` are as for ``explain``. ``depths`` (1 to MAX_DEPTHS) blocks are randomised at the
    deepest step, one map each; ``weights_seed`` seeds their new weights. Pass the ``original``
    map when it is already computed (same method, class, layer and options) to skip recomputing it.

    The table's gradient maps (saliency, SmoothGrad, IG, guided backprop, guided Grad-CAM) are
    ranked by absolute value, as the paper does: a gradient's sign flips with the sign conventions
    of the layers above, its size says where the model is sensitive. Maps whose sign is part of
    their meaning (occlusion's drop, the CAMs) are ranked as they are.
    """
    row = get_method(method)
    row.check(options, loaded.spec.input_size)
    if not 1 <= depths <= MAX_DEPTHS:
        raise VizcoreError(f"Sanity check depths must be 1 to {MAX_DEPTHS}, not {depths}.")
    if original is None:
        layer = layer if row.needs_layer else None
        original = explain(loaded, pixels, method, class_index, layer, contrast_class, **options)
    start = time.perf_counter()
    ranked = np.abs if row.gradient_map else np.asarray
    correlations = []
    for randomised in randomisation_depths(loaded, depths):
        copy = randomised_model(loaded, randomised, weights_seed)
        result = explain(copy, pixels, method, original.class_index, original.layer, original.contrast_class, **options)
        r = spearman(ranked(original.values), ranked(result.values))
        correlations.append({"randomised": list(randomised), "spearman": round(r, 4)})
    return SanityCheck(
        method=original.method,
        class_index=original.class_index,
        label=original.label,
        layer=original.layer,
        correlations=correlations,
        passes=bool(correlations) and correlations[-1]["spearman"] < PASS_THRESHOLD,
        threshold=PASS_THRESHOLD,
        seconds=time.perf_counter() - start,
        contrast_class=original.contrast_class,
    )


def feeds_global_pool(loaded: LoadedModel, layer: str) -> bool:
    """True when ``layer``'s output goes only into global average pooling.

    Then the gradient of any score with respect to it is the same at every position (the
    pool's gradient is 1/(H*W) everywhere), whatever comes after the pool.
    """
    consumers = loaded.derived.layer_graph((layer,)).get_layer(layer)._outbound_nodes
    return bool(consumers) and all(isinstance(node.operation, keras.layers.GlobalAveragePooling2D) for node in consumers)


def cam_caveat(loaded: LoadedModel, method: str, layer: str | None, contrast_class: int | None = None) -> str | None:
    """One sentence to show beside a Grad-CAM++ map at a layer where it hardly depends on the class, else None.

    At a layer that feeds a global average pool the class gradient is a constant per channel
    (the class's weight w over H*W), Grad-CAM++'s per-position weights collapse and its map is
    sum over channels of relu(w) * A (Spearman 0.9998 with it on chelsea at ``head_relu``): the
    same picture for most classes (0.93 between tiger cat and goldfish, Grad-CAM: 0.51). A
    contrastive map's weights are relu(w_a - w_b), which do depend on the pair: no caveat.
    """
    if method != "gradcam++" or layer is None or contrast_class is not None or not feeds_global_pool(loaded, layer):
        return None
    names = spatial_layer_names(loaded)
    earlier = [name for name in names[: names.index(layer)] if block_of(name) != block_of(layer)] if layer in names else []
    instead = f"an earlier layer such as {earlier[-1]}" if earlier else "an earlier layer"
    return (f"At {layer} the class gradient is the same at every position, so Grad-CAM++ reduces to the channels "
            f"weighted by their positive class weights: nearly the same map for every class. Pick {instead} for a "
            "class-specific map.")
