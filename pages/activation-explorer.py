"""Activation explorer: every channel of a layer for the sidebar image."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import io  # noqa: E402  (after run_through_app)
import json  # noqa: E402

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from ui import dataset_view  # noqa: E402
from ui.layout import page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import activations, cached, images, viz  # noqa: E402
from vizcore.errors import VizcoreError  # noqa: E402

CHANNELS_PER_PAGE = 64
GRID_COLUMNS = 8

page_intro(
    "Activation explorer",
    "Each small picture is one channel of the chosen layer: bright where that channel responds to the image.",
    "Early layers respond to edges and colours, later layers to parts of objects; dark tiles are channels this image does not excite.",
)

selection = current_selection()
model = selection.model
layers = {info.name: info for info in activations.explorer_layers(model)}
presets = set(model.spec.presets.explorer_layers)


def layer_label(name: str) -> str:
    info = layers[name]
    marker = "★ " if name in presets else ""
    return f"{marker}{info.block} · {name} ({info.shape_text})"


layer_column, normalise_column, sort_column = st.columns([3, 1, 1])
layer = layer_column.selectbox(
    "Layer (★ = preset)", list(layers), format_func=layer_label, key=f"explorer_layer_{selection.model_name}"
)
normalisation = normalise_column.radio(
    "Scale each channel by", activations.NORMALISATIONS, format_func={"minmax": "min-max", "meanstd": "mean ± 3 std"}.get,
    key="explorer_normalisation",
)
sort = sort_column.radio(
    "Order", activations.SORT_ORDERS, format_func={"mean": "strongest first", "index": "by index"}.get, key="explorer_sort"
)

try:
    maps = cached.layer_activations(selection.model_name, selection.image_key, selection.pixels, layer)
except VizcoreError as error:
    st.error(str(error))
    stop_page()

channel_count = maps.shape[-1]
order = activations.channel_order(maps, sort)
normalised = activations.normalise_channels(maps, normalisation)
page_count = -(-channel_count // CHANNELS_PER_PAGE)
page = 1
if page_count > 1:
    page = st.number_input(f"Page (of {page_count})", 1, page_count, 1, key=f"explorer_page_{layer}")
shown = order[(page - 1) * CHANNELS_PER_PAGE : page * CHANNELS_PER_PAGE]
grid = viz.channel_grid(normalised, shown, columns=GRID_COLUMNS)
st.image(
    grid,
    caption=f"Channels {', '.join(map(str, shown[:3]))}… ({len(shown)} of {channel_count}), "
    f"{'strongest first' if sort == 'mean' else 'by index'}; each tile {maps.shape[0]}×{maps.shape[1]}",
)

st.subheader("One channel up close")
statistics = activations.channel_statistics(maps)
pick_column, opacity_column, colormap_column = st.columns([1, 2, 1])
channel = int(
    pick_column.number_input("Channel", 0, channel_count - 1, int(order[0]), key=f"explorer_channel_{layer}")
)
dataset_view.channel_link(pick_column, layer, channel)
opacity = opacity_column.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="explorer_opacity")
colormap = colormap_column.selectbox("Colormap", list(viz.COLORMAPS), key="explorer_colormap")

model_view = images.fit_to_model(selection.pixels, model.spec.input_size)
overlay_column, alone_column, numbers_column = st.columns([2, 2, 1])
overlay_column.image(viz.overlay(model_view, normalised[:, :, channel], opacity, colormap), caption="On the image")
alone_column.image(
    viz.enlarged_map(normalised[:, :, channel], model.spec.input_size, colormap),
    caption="The channel alone",
)
numbers_column.metric("Mean", f"{statistics.mean[channel]:.3f}")
numbers_column.metric("Max", f"{statistics.max[channel]:.3f}")
numbers_column.metric("Zeros", f"{statistics.zero_fraction[channel]:.0%}")

colors = ["#d62728" if index == channel else "#1f77b4" for index in range(channel_count)]
figure = go.Figure(
    go.Bar(x=list(range(channel_count)), y=statistics.mean, marker_color=colors, hovertemplate="channel %{x}: %{y:.3f}<extra></extra>")
)
figure.update_layout(
    xaxis_title="channel", yaxis_title="mean activation", height=260, margin=dict(l=10, r=10, t=10, b=40), bargap=0.05
)
st.plotly_chart(figure, key="explorer_means_chart")

parameters = selection.parameters(layer=layer, shape=list(maps.shape), normalisation=normalisation, sort=sort, page=page)
record = {"parameters": parameters, "top_channels": activations.strongest_channels(maps)}
array_buffer = io.BytesIO()
np.save(array_buffer, maps)
png_column, npy_column, json_column, _ = st.columns([1, 1, 1, 2])
png_column.download_button("Grid PNG", images.encode_png(grid), f"{layer}_grid.png", "image/png", key="explorer_png")
npy_column.download_button(
    "Activations NPY", array_buffer.getvalue(), f"{layer}.npy", "application/octet-stream", key="explorer_npy"
)
json_column.download_button(
    "Parameters JSON", json.dumps(record, indent=2), f"{layer}.json", "application/json", key="explorer_json"
)
