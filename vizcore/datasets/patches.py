"""Max-activating dataset patches: for a layer and channel, the index's top images cropped at the unit's receptive field.

The receptive field is computed from the layer stack (not measured): walking the flat graph from
the input, each convolution or pooling layer with kernel k, stride s and dilation d grows the
field by (d (k - 1)) times the current jump and multiplies the jump by s; "same" padding shifts
where unit 0 sits by the padding TensorFlow puts before the first pixel; element-wise layers (batch
norm, activations, additions) keep the field of their widest input. For a unit at feature-map
cell (y, x) the field is a square of ``size`` pixels in the model's input centred at
``offset + (y, x) * stride``; ``box_in_original`` maps it back through ``fit_to_model``'s resize
and centre crop to the original image's pixels, clipped to the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from vizcore.errors import VizcoreError
from vizcore.models.spec import LoadedModel

_SPATIAL = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
            keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
DEFAULT_K = 16


@dataclass(frozen=True)
class ReceptiveField:
    """Per axis (rows, columns), in model-input pixels: the field's side, the jump between cells, cell 0's centre."""

    size: tuple[int, int]
    stride: tuple[int, int]
    offset: tuple[float, float]

    def as_dict(self) -> dict:
        return {"size": list(self.size), "stride": list(self.stride), "offset": list(self.offset)}

    @classmethod
    def from_dict(cls, data: dict) -> ReceptiveField:
        return cls(tuple(data["size"]), tuple(data["stride"]), tuple(data["offset"]))


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _grow(field, layer, input_shape):
    """The field after ``layer`` given the field of its input (per axis: size, jump, offset)."""
    if isinstance(layer, keras.layers.ZeroPadding2D):
        (top, _), (left, _) = layer.padding
        return tuple((size, jump, offset - pad * jump) for (size, jump, offset), pad in zip(field, (top, left)))
    if not isinstance(layer, _SPATIAL):
        return field
    kernels = _pair(layer.pool_size if hasattr(layer, "pool_size") else layer.kernel_size)
    strides = _pair(layer.strides or kernels)
    dilations = _pair(getattr(layer, "dilation_rate", 1))
    grown = []
    for (size, jump, offset), kernel, stride, dilation, length in zip(field, kernels, strides, dilations, input_shape[1:3]):
        span = dilation * (kernel - 1) + 1
        before = 0
        if layer.padding == "same":
            total = max((math.ceil(length / stride) - 1) * stride + span - length, 0)
            before = total // 2
        grown.append((size + (span - 1) * jump, jump * stride, offset + ((span - 1) / 2 - before) * jump))
    return tuple(grown)


def receptive_field(loaded: LoadedModel, layer: str) -> ReceptiveField:
    """The receptive field of one unit of ``layer`` (a feature-map layer), computed from the layer stack."""
    graph = loaded.derived.layer_graph((layer,))
    if layer not in {item.name for item in graph.layers}:
        graph = loaded.derived.copy("flat")
    fields = {id(tensor): ((1, 1, 0.0), (1, 1, 0.0)) for tensor in graph.inputs}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            operation = node.operation
            if node.is_input or operation is None:
                continue
            known = [fields[id(tensor)] for tensor in node.input_tensors if id(tensor) in fields]
            if not known:
                continue
            widest = max(known, key=lambda field: field[0][0] * field[1][0])
            spatial_input = next((t for t in node.input_tensors if len(t.shape) == 4), None)
            if spatial_input is None:
                continue  # a flat layer (pooling to a vector, Dense): no spatial field after it
            field = _grow(widest, operation, spatial_input.shape)
            for tensor in node.output_tensors:
                if len(tensor.shape) == 4:
                    fields[id(tensor)] = field
            if operation.name == layer:
                (rows, columns) = field
                return ReceptiveField((rows[0], columns[0]), (rows[1], columns[1]), (rows[2], columns[2]))
    raise VizcoreError(f"Layer {layer!r} has no feature map whose receptive field vizcore can compute.")


def box_in_model(field: ReceptiveField, y, x, input_size: int) -> np.ndarray:
    """Boxes [x0, y0, x1, y1] (x1, y1 exclusive) in model-input pixels for cells (y, x), clipped to the input."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    centre_y = field.offset[0] + y * field.stride[0]
    centre_x = field.offset[1] + x * field.stride[1]
    half_y, half_x = (field.size[0] - 1) / 2, (field.size[1] - 1) / 2
    box = np.stack([centre_x - half_x, centre_y - half_y, centre_x + half_x + 1, centre_y + half_y + 1], axis=-1)
    return np.clip(box, 0, input_size)


def box_in_original(field: ReceptiveField, y, x, height, width, input_size: int) -> np.ndarray:
    """Boxes [x0, y0, x1, y1] in the original image's pixels (int, x1/y1 exclusive) for cells (y, x) of images
    ``height`` x ``width``, undoing ``fit_to_model``'s resize of the shorter side and centre crop."""
    height, width = np.asarray(height, dtype=np.float64), np.asarray(width, dtype=np.float64)
    scale = input_size / np.minimum(height, width)
    resized_w = np.maximum(input_size, np.round(width * scale))
    resized_h = np.maximum(input_size, np.round(height * scale))
    left, top = (resized_w - input_size) // 2, (resized_h - input_size) // 2
    box = box_in_model(field, y, x, input_size)
    x0 = (box[..., 0] + left) * width / resized_w
    x1 = (box[..., 2] + left) * width / resized_w
    y0 = (box[..., 1] + top) * height / resized_h
    y1 = (box[..., 3] + top) * height / resized_h
    original = np.stack([np.floor(x0), np.floor(y0), np.ceil(x1), np.ceil(y1)], axis=-1)
    return np.clip(original, 0, np.stack([width, height, width, height], axis=-1)).astype(np.int64)


@dataclass(frozen=True)
class Patch:
    path: str  # relative to the dataset's root
    activation: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the original image's pixels, x1 and y1 exclusive

    def as_dict(self) -> dict:
        return {"path": self.path, "activation": self.activation, "box": list(self.box)}


def top_patches(index_dir, layer: str, channel: int, k: int = DEFAULT_K) -> list[Patch]:
    """The ``k`` dataset images that excite ``layer``'s ``channel`` most, highest first, with their patch boxes."""
    import pyarrow.parquet as pq

    from vizcore.datasets.index import TOP_FILE, read_manifest

    manifest = read_manifest(index_dir)
    layers = manifest["settings"]["layers"]
    if layer not in layers:
        shown = ", ".join(layers) or "none"
        raise VizcoreError(f"The index has no layer called {layer!r}; it indexed: {shown}.")
    channels = manifest["layers"][layer]["channels"]
    if not 0 <= channel < channels:
        raise VizcoreError(f"Channel {channel} is out of range: layer {layer!r} has channels 0 to {channels - 1}.")
    if not 1 <= k <= manifest["settings"]["top_k"]:
        raise VizcoreError(f"K must be between 1 and {manifest['settings']['top_k']} (the index keeps that many), not {k}.")
    table = pq.read_table(Path(index_dir) / TOP_FILE, filters=[("layer", "=", layer), ("channel", "=", channel)])
    table = table.sort_by([("activation", "descending")]).slice(0, k)
    rows = table.to_pylist()
    return [Patch(row["path"], float(row["activation"]), (row["x0"], row["y0"], row["x1"], row["y1"])) for row in rows]


def patch_grid(index_dir, patches: list[Patch], side: int = 96) -> np.ndarray:
    """The patches cut from their original images, each resized to ``side`` px, as one uint8 RGB grid."""
    import cv2

    from vizcore import viz
    from vizcore.datasets.index import read_manifest
    from vizcore.datasets.sources import ImageFile, Skipped, open_source

    if not patches:
        raise VizcoreError("There are no patches to show for this channel.")
    manifest = read_manifest(index_dir)
    tiles = []
    with open_source(manifest["source"]["location"]) as source:
        for patch in patches:
            pixels = source.decode(ImageFile(patch.path, None))
            if isinstance(pixels, Skipped):
                raise VizcoreError(f"{patch.path} can no longer be read from the dataset: {pixels.reason}")
            x0, y0, x1, y1 = patch.box
            crop = pixels[y0:y1, x0:x1]
            tiles.append(cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA))
    return viz.image_grid(np.stack(tiles), columns=min(8, len(tiles)))

