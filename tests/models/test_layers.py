import pytest

from vizcore.errors import VizcoreError
from vizcore.models.layers import (
    block_of, check_cam_layer, check_feature_map_layer, default_cam_layer, layer_infos, preset_roles,
    spatial_layer_names, unknown_layer,
)


@pytest.mark.parametrize("name, block", [
    ("stage3_block2_dwconv", "stage3_block2"), ("block3_conv1", "block3"), ("conv4_block6_out", "conv4_block6"),
    ("block_13_expand_relu", "block_13"), ("block4c_add", "block4c"), ("mixed4", "mixed4"), ("stem_relu", "stem"),
])
def test_layers_group_by_block(name, block):
    assert block_of(name) == block


def test_nested_layers_are_listed_in_graph_order_with_their_shapes(nested_loaded):
    infos = layer_infos(nested_loaded)
    assert [info.name for info in infos] == ["base_conv1", "base_bn", "base_relu", "base_conv2", "pool", "head"]
    conv2 = infos[3]
    assert conv2.kind == "Conv2D" and conv2.shape == (22, 22, 12) and conv2.is_feature_map and conv2.shape_text == "22×22×12"
    assert not infos[-1].is_feature_map and infos[-1].shape == (3,)


def test_cam_layers_and_the_default(nested_loaded, embedded_model):
    assert spatial_layer_names(nested_loaded) == ["base_conv1", "base_bn", "base_relu", "base_conv2"]
    assert default_cam_layer(nested_loaded) == "base_conv2"  # the preset names no layer of the model
    assert default_cam_layer(embedded_model) == "head_relu"
    assert check_cam_layer(embedded_model, "stage4_block3_add") == "stage4_block3_add"


def test_unknown_names_get_the_closest_names_and_the_command(embedded_model):
    with pytest.raises(VizcoreError, match=r"no layer called 'stage4_blok3_add'; closest: stage4_block3_add"):
        check_feature_map_layer(embedded_model, "stage4_blok3_add")
    error = unknown_layer("zzzz", ["head_relu", "stem_relu"])
    assert "closest" not in str(error) and "`vizcore layers` lists them all" in str(error)
    with pytest.raises(VizcoreError, match="Layer 'logits' has no feature map to show"):
        check_feature_map_layer(embedded_model, "logits")


def test_presets_are_marked_by_role(embedded_model):
    roles = preset_roles(embedded_model)
    assert roles["head_relu"] == ["explorer", "gradcam"]
    assert set(roles["stage4_block3_add"]) == {"explorer", "dream", "style", "gallery"}
    assert roles["stage5_block3_add"] == ["dream", "style", "content", "gallery"]
    every = {info.name for info in layer_infos(embedded_model)}
    assert set(roles) <= every
