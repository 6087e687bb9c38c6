"""keras.applications models with their real ImageNet weights, from Keras's cache or downloaded once.

Keras keeps downloads in ``$KERAS_HOME/models`` (default ``~/.keras/models``). When a model's
weights file is already there, vizcore hands that file to the constructor itself, so loading
needs no network and no hash pass over the file (528 MB for VGG16); otherwise Keras downloads it
there. Offline, the error names the file, the Keras URL it comes from and the folder to put it in.
"""

from __future__ import annotations

import os

import keras
from keras.src.applications import efficientnet, inception_v3, mobilenet_v2, resnet, vgg16, vgg19, xception

from vizcore.errors import VizcoreError
from vizcore.models.class_names import imagenet_class_names
from vizcore.models.preprocessing import get_preprocessing
from vizcore.models.spec import ModelSpec, Presets


def keras_weights_dir() -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def weights_path(weights_file: str) -> str:
    """Where Keras keeps (and vizcore looks for) a downloaded weights file."""
    return os.path.join(keras_weights_dir(), weights_file)


def _url(keras_constant: str, weights_file: str) -> str:
    """The download URL from a keras.applications constant: a full URL, or a folder URL the file name completes."""
    return keras_constant + weights_file if keras_constant.endswith("/") else keras_constant


# name -> keras.applications constructor: the architectures, buildable offline with weights=None.
ARCHITECTURES = {
    "vgg16": keras.applications.VGG16,
    "vgg19": keras.applications.VGG19,
    "resnet50": keras.applications.ResNet50,
    "inception_v3": keras.applications.InceptionV3,
    "mobilenet_v2": keras.applications.MobileNetV2,
    "xception": keras.applications.Xception,
    "efficientnet_b0": keras.applications.EfficientNetB0,
}

# name -> the Keras constant its ImageNet weights are downloaded from (read, not copied, so it follows Keras).
WEIGHTS_URL_CONSTANTS = {
    "vgg16": vgg16.WEIGHTS_PATH,
    "vgg19": vgg19.WEIGHTS_PATH,
    "resnet50": resnet.BASE_WEIGHTS_PATH,
    "inception_v3": inception_v3.WEIGHTS_PATH,
    "mobilenet_v2": mobilenet_v2.BASE_WEIGHT_PATH,
    "xception": xception.WEIGHTS_PATH,
    "efficientnet_b0": efficientnet.BASE_WEIGHTS_PATH,
}

# Models whose architecture depends on ``weights="imagenet"`` itself, so a file path would build a
# different network: Keras's EfficientNet adds a rescaling layer (its ImageNet variance fix) only
# then. These load through "imagenet" always; Keras reads the cached file after checking its hash.
BUILT_ONLY_FOR_IMAGENET = {"efficientnet_b0"}


def weights_url(name: str, weights_file: str) -> str:
    return _url(WEIGHTS_URL_CONSTANTS[name], weights_file)


def offline_message(display_name: str, weights_file: str, url: str) -> str:
    return (
        f"{display_name} needs its ImageNet weights and they could not be downloaded (offline?): "
        f"download {weights_file} from {url} into {keras_weights_dir()}, then choose {display_name} again."
    )


def _imagenet_loader(name: str, display_name: str, weights_file: str):
    constructor, url = ARCHITECTURES[name], weights_url(name, weights_file)

    def load() -> keras.Model:
        local = weights_path(weights_file)
        if os.path.isfile(local) and name not in BUILT_ONLY_FOR_IMAGENET:
            try:
                return constructor(weights=local)
            except Exception as error:  # truncated download, another model's file, not HDF5...
                raise VizcoreError(
                    f"{local} is not a usable {display_name} weights file ({type(error).__name__}): "
                    f"replace it with the file from {url}."
                ) from error
        try:
            return constructor(weights="imagenet")
        except Exception as error:  # a failed download surfaces as URLError, HTTPError, SSL, hash errors...
            raise VizcoreError(offline_message(display_name, weights_file, url)) from error

    return load


def _zoo_spec(name, display_name, input_size, preprocessing, weights_file, presets) -> ModelSpec:
    return ModelSpec(
        name=name,
        display_name=display_name,
        loader=_imagenet_loader(name, display_name, weights_file),
        input_size=input_size,
        preprocessing=get_preprocessing(preprocessing),
        class_names=imagenet_class_names,
        presets=presets,
        weights_file=weights_file,
    )


_VGG_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")

ZOO_SPECS = (
    _zoo_spec(
        "vgg16", "VGG16", 224, "caffe",
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        Presets(
            explorer_layers=("block1_conv2", "block2_conv2", "block3_conv1", "block4_conv3", "block5_conv3"),
            gradcam_layer="block5_conv3",
            dream_layers={"block4_conv3": 1.0, "block5_conv2": 1.0},
            style_layers=_VGG_STYLE_LAYERS,
            content_layer="block5_conv2",
            gallery=(("block3_conv1", "0-15"), ("block4_conv3", "0-15"), ("block2_conv2", "0-15")),
        ),
    ),
    _zoo_spec(
        "vgg19", "VGG19", 224, "caffe",
        "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        Presets(
            explorer_layers=("block1_conv2", "block2_conv2", "block3_conv1", "block4_conv4", "block5_conv4"),
            gradcam_layer="block5_conv4",
            dream_layers={"block4_conv4": 1.0, "block5_conv2": 1.0},
            style_layers=_VGG_STYLE_LAYERS,
            content_layer="block5_conv2",
            gallery=(("block3_conv1", "0-15"), ("block4_conv4", "0-15"), ("block2_conv2", "0-15")),
        ),
    ),
    _zoo_spec(
        "resnet50", "ResNet50", 224, "caffe",
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        Presets(
            explorer_layers=("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
            gradcam_layer="conv5_block3_out",
            dream_layers={"conv3_block4_out": 1.0, "conv4_block6_out": 1.0},
            style_layers=("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
            content_layer="conv4_block6_out",
            gallery=(("conv3_block4_out", "0-15"), ("conv4_block6_out", "0-15")),
        ),
    ),
    _zoo_spec(
        "inception_v3", "InceptionV3", 299, "tf",
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        Presets(
            explorer_layers=("mixed0", "mixed2", "mixed4", "mixed7", "mixed10"),
            gradcam_layer="mixed10",
            dream_layers={"mixed3": 1.0, "mixed5": 1.0},
            style_layers=("mixed0", "mixed1", "mixed2", "mixed3", "mixed5"),
            content_layer="mixed7",
            gallery=(("mixed3", "0-15"), ("mixed4", "0-15"), ("mixed2", "0-15")),
        ),
    ),
    _zoo_spec(
        "mobilenet_v2", "MobileNetV2", 224, "tf",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        Presets(
            explorer_layers=("Conv1_relu", "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu", "out_relu"),
            gradcam_layer="out_relu",
            dream_layers={"block_6_expand_relu": 1.0, "block_13_expand_relu": 1.0},
            style_layers=("Conv1_relu", "block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu"),
            content_layer="block_13_expand_relu",
            gallery=(("block_6_expand_relu", "0-15"), ("block_13_expand_relu", "0-15")),
        ),
    ),
    _zoo_spec(
        "xception", "Xception", 299, "tf",
        "xception_weights_tf_dim_ordering_tf_kernels.h5",
        Presets(
            explorer_layers=("block1_conv1_act", "block3_sepconv2_bn", "block4_sepconv2_bn", "block13_sepconv2_bn", "block14_sepconv2_act"),
            gradcam_layer="block14_sepconv2_act",
            dream_layers={"block4_sepconv2_bn": 1.0, "block8_sepconv3_bn": 1.0},
            style_layers=("block1_conv1_act", "block2_sepconv2_bn", "block3_sepconv2_bn", "block4_sepconv2_bn", "block5_sepconv3_bn"),
            content_layer="block8_sepconv3_bn",
            gallery=(("block4_sepconv2_bn", "0-15"), ("block8_sepconv3_bn", "0-15")),
        ),
    ),
    _zoo_spec(
        "efficientnet_b0", "EfficientNetB0", 224, "none",
        "efficientnetb0.h5",
        Presets(
            explorer_layers=("stem_activation", "block2b_add", "block3b_add", "block4c_add", "block6d_add", "top_activation"),
            gradcam_layer="top_activation",
            dream_layers={"block4c_add": 1.0, "block5c_add": 1.0},
            style_layers=("stem_activation", "block2b_add", "block3b_add", "block4c_add", "block5c_add"),
            content_layer="block5c_add",
            gallery=(("block4c_add", "0-15"), ("block3b_add", "0-15")),
        ),
    ),
)
