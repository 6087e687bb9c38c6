"""Filter gallery: for chosen channels of a layer, the image that excites each one most."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import io  # noqa: E402  (after run_through_app)
from dataclasses import asdict  # noqa: E402

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from ui import dataset_view  # noqa: E402
from ui.animation_view import RunAnimation  # noqa: E402
from ui.layout import json_download, page_intro  # noqa: E402
from ui.class_gallery import show_class_gallery  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.live_run import StoppedRun, live_run  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import animation, cached, filters, images, viz  # noqa: E402
from vizcore.errors import VizcoreError  # noqa: E402
from vizcore.models.layers import feature_map_layers  # noqa: E402

PREVIEW_EVERY = 8
GRID_COLUMNS = 8
TILE_WIDTH = 112  # CSS px per finished image on the page: about GRID_COLUMNS to a row
SIZES = (64, 96, 128, 192, 256, 384, 512)

page_intro(
    "Filter gallery",
    "Each picture is synthesised from grey noise so that one channel of the chosen layer responds to it as strongly as possible.",
    "Repeating textures mean the channel detects that pattern wherever it appears; early layers give edges and colours, later ones textures and object parts.",
)

selection = current_selection()
model = selection.model
# The class objective (class model visualisation) picks classes instead of a layer's channels.
class_objective = st.session_state.get("filters_objective") == "class"
classes_key = f"filters_classes_{selection.model_name}"
if class_objective:
    class_names = model.class_names
    top_class = cached.top_predictions(selection.model_name, selection.image_key, selection.pixels, 1)[0][0].index
    st.session_state.setdefault(classes_key, [top_class])
    chosen_classes = st.multiselect(
        "Classes", list(range(len(class_names))), key=classes_key, help="Opens on the sidebar image's top class.",
        format_func=lambda index: f"{class_names[index]} ({index})", max_selections=filters.MAX_IMAGES,
    )
    st.caption("Objective: Class (in Settings). Each picture is synthesised so that the model's score for one class is "
               "as high as possible: what the model thinks that class looks like (Simonyan et al. 2013).")
layers = {info.name: info for info in feature_map_layers(model)}
examples = [(layer, channels) for layer, channels in model.spec.presets.gallery if layer in layers]
layer_key, channels_key = f"filters_layer_{selection.model_name}", f"filters_channels_{selection.model_name}"
ordered_layers = list(dict.fromkeys([layer for layer, _ in examples] + list(layers)))
st.session_state.setdefault(layer_key, ordered_layers[0])
st.session_state.setdefault(channels_key, examples[0][1] if examples else "0-15")


def use_example() -> None:
    layer, channels = st.session_state["filters_example"]
    st.session_state[layer_key], st.session_state[channels_key] = layer, channels


if examples and not class_objective:
    st.selectbox(
        "Start from a preset", examples, index=None, key="filters_example", on_change=use_example,
        format_func=lambda example: f"★ {example[0]}, channels {example[1]}", placeholder="Pick a preset…",
    )
gallery_presets = {layer for layer, _ in examples}
if not class_objective:
    layer_column, channels_column = st.columns([3, 2])
    layer = layer_column.selectbox(
        "Layer (★ = preset)", ordered_layers, key=layer_key,
        format_func=lambda name: f"{'★ ' if name in gallery_presets else ''}{layers[name].block} · {name} ({layers[name].shape_text})",
    )
    channels_text = channels_column.text_input("Channels", key=channels_key, help="For example 0-15, or 3, 7, 40-43.")

with st.expander("Settings", expanded=False):
    first, second, third = st.columns(3)
    steps = first.slider("Steps", 16, 1024, filters.FilterSettings.steps, 16, key="filters_steps",
                         help="The first 5/8 refine a half-size tile of a repeating image, the rest the full-size image.")
    if class_objective:  # opens at the model's own input size: the picture is then classified exactly as rendered
        size = first.select_slider("Image size (px)", sorted({*SIZES, model.spec.input_size}), model.spec.input_size,
                                   key=f"filters_class_size_{selection.model_name}")
    else:
        size = first.select_slider("Image size (px)", SIZES, 128, key="filters_size")
    learning_rate = first.number_input("Learning rate", 0.001, 1.0, 0.05, 0.01, format="%.3f", key="filters_lr")
    seed = first.number_input("Random seed", 0, 2**31 - 1, 0, key="filters_seed")
    parameterization = second.radio(
        "Image parameterisation", ["fourier", "pixel"], key="filters_param",
        format_func={"fourier": "Fourier, decorrelated colour", "pixel": "Pixels"}.get,
    )
    objective = second.radio(
        "Objective", filters.OBJECTIVES, key="filters_objective",
        format_func={"channel": "Whole channel (mean)", "neuron": "Centre neuron", "class": "Class (its logit)"}.get,
        help="Class: an image the model takes for each chosen class (class model visualisation, Simonyan et al. 2013).",
    )
    images_per_channel = second.slider("Images per channel (diversity)", 1, filters.MAX_IMAGES_PER_CHANNEL, 1, key="filters_per_channel",
                                       disabled=objective == "class")
    diversity_weight = second.number_input("Diversity weight", 0.0, 1000.0, 10.0, 1.0, key="filters_diversity",
                                           disabled=images_per_channel == 1)
    jitter = third.slider("Jitter (px)", 0, 32, 8, key="filters_jitter")
    scale = third.slider("Scale ±", 0.0, 0.5, 0.1, 0.05, key="filters_scale")
    rotate = third.slider("Rotate ± (degrees)", 0.0, 45.0, 10.0, 1.0, key="filters_rotate")
    tv_weight = third.number_input("Total-variation weight", 0.0, 1000.0, 0.0, 1.0, key="filters_tv", help="Higher is smoother.")
    l2_weight = third.number_input("L2 weight", 0.0, 1000.0, 0.0, 1.0, key="filters_l2", help="Higher is less saturated.")

settings = filters.FilterSettings(
    steps=int(steps), size=int(size), learning_rate=float(learning_rate), parameterization=parameterization,
    jitter=int(jitter), scale=float(scale), rotate=float(rotate), tv_weight=float(tv_weight), l2_weight=float(l2_weight),
    objective=objective, images_per_channel=1 if objective == "class" else int(images_per_channel),
    diversity_weight=float(diversity_weight), seed=int(seed),
)
if objective == "class":
    show_class_gallery(selection, chosen_classes, settings, PREVIEW_EVERY, GRID_COLUMNS, 2 * TILE_WIDTH)
    stop_page()
try:
    settings.check()
    channels = filters.parse_channels(channels_text, cached.layer_channel_count(selection.model_name, layer))
    if len(channels) * settings.images_per_channel > filters.MAX_IMAGES:
        raise VizcoreError(f"That is more than {filters.MAX_IMAGES} images in one run: choose fewer channels or images per channel.")
except VizcoreError as error:
    st.error(str(error))
    stop_page()

request = (selection.model_name, layer, tuple(channels), settings)
movie = RunAnimation("filters", request)
gallery = live_run(
    "filters", request, f"Render {len(channels) * settings.images_per_channel} images",
    lambda on_progress: movie.keep(filters.visualise_filters(
        model, layer, channels, settings, preview_every=PREVIEW_EVERY,
        on_progress=movie.recording(on_progress, lambda update: None if update.images is None
                                    else animation.grid_frame(update.images)),
    )),
    lambda update: None if update.images is None else viz.image_grid(filters.to_uint8(update.images), GRID_COLUMNS),
)
if gallery is None:
    stop_page()
if isinstance(gallery, StoppedRun):
    st.image(gallery.preview, caption=f"{layer}: channels {channels_text.strip()}, stopped at step {gallery.step}")
    png_column, json_column, _ = st.columns([1, 1, 3])
    png_column.download_button("Preview PNG", images.encode_png(gallery.preview), f"{layer}_filters_step{gallery.step}.png",
                               "image/png", key="filters_preview_png")
    with json_column:
        json_download("Parameters JSON", {"model": selection.model_name, "layer": layer, "channels": channels,
                                          "parameters": asdict(settings), "stopped_at_step": gallery.step},
                      f"{layer}_filters_step{gallery.step}.json", key="filters_preview_json")
    stop_page()

# Each image's channel (channel.image when there are several images per channel), on its tile and in the chart.
labels = [f"{channel}" if settings.images_per_channel == 1 else f"{channel}.{index % settings.images_per_channel}"
          for index, channel in enumerate(gallery.channels)]
st.image(list(gallery.images), caption=[f"channel {label}" for label in labels], width=TILE_WIDTH)
st.caption(f"{layer}: channels {channels_text.strip()} ({len(gallery.channels)} images, {gallery.steps_done} steps, "
           f"{gallery.seconds:.1f} s)")
grid = viz.image_grid(gallery.images, GRID_COLUMNS)  # the download: every image in one PNG, in reading order

figure = go.Figure([
    go.Bar(name="start (grey noise)", x=labels, y=gallery.initial_activation, marker_color="#bbbbbb"),
    go.Bar(name="its synthesised image", x=labels, y=gallery.final_activation, marker_color="#1f77b4"),
])
figure.update_layout(
    barmode="group", xaxis_title="channel", xaxis_type="category",
    yaxis_title="mean activation" if settings.objective == "channel" else "centre-unit activation",
    height=280, margin=dict(l=10, r=10, t=10, b=40), legend=dict(orientation="h", y=1.12),
)
st.plotly_chart(figure, key="filters_activation_chart")

record = gallery.summary()
array_buffer = io.BytesIO()
np.save(array_buffer, gallery.images)
png_column, npy_column, json_column, gif_column, mp4_column = st.columns(5)
png_column.download_button("Grid PNG", images.encode_png(grid), f"{layer}_filters.png", "image/png", key="filters_png")
npy_column.download_button("Images NPY", array_buffer.getvalue(), f"{layer}_filters.npy", "application/octet-stream", key="filters_npy")
with json_column:
    json_download("Parameters JSON", record, f"{layer}_filters.json", key="filters_json")
movie.downloads(gif_column, mp4_column, f"{layer}_filters")
dataset_view.natural_exemplars(selection, layer, list(gallery.channels), gallery.images)
