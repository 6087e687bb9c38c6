"""Named conversions between RGB pixels (0-255, float) and a model's input space, both ways.

One source of truth for every model's preprocessing: the registry names a mode, and uploaded
models pick one from the same table. The functions use only arithmetic and channel reversal,
so they work on numpy arrays and on TensorFlow tensors alike (gradients flow through them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from vizcore.errors import VizcoreError

IMAGENET_MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


@dataclass(frozen=True)
class Preprocessing:
    name: str
    description: str
    to_model: Callable  # RGB 0-255 -> model space
    to_pixels: Callable  # model space -> RGB 0-255 (not clipped)


PREPROCESSING = {
    mode.name: mode
    for mode in (
        Preprocessing("lite", "(x - 127) / 128 (EfficientNet-Lite)", lambda x: (x - 127.0) / 128.0, lambda y: y * 128.0 + 127.0),
        Preprocessing("tf", "-1..1: x / 127.5 - 1 (Inception, MobileNet, Xception)", lambda x: x / 127.5 - 1.0, lambda y: (y + 1.0) * 127.5),
        Preprocessing(
            "caffe",
            "caffe: BGR minus the ImageNet mean (VGG, ResNet)",
            lambda x: x[..., ::-1] - CAFFE_MEAN_BGR,
            lambda y: (y + CAFFE_MEAN_BGR)[..., ::-1],
        ),
        Preprocessing(
            "torch",
            "torch: x / 255 with ImageNet mean/std",
            lambda x: (x / 255.0 - IMAGENET_MEAN_RGB) / IMAGENET_STD_RGB,
            lambda y: (y * IMAGENET_STD_RGB + IMAGENET_MEAN_RGB) * 255.0,
        ),
        Preprocessing("unit", "0-1: x / 255", lambda x: x / 255.0, lambda y: y * 255.0),
        Preprocessing("none", "none: raw 0-255 (the model rescales itself)", lambda x: x, lambda y: y),
    )
}


def get_preprocessing(name: str) -> Preprocessing:
    try:
        return PREPROCESSING[name]
    except KeyError:
        raise VizcoreError(f"Unknown preprocessing {name!r}: choose one of {', '.join(PREPROCESSING)}.") from None
