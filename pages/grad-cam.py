"""Grad-CAM: where in the image a late convolutional layer finds evidence for a class, two classes side by side."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import json  # noqa: E402  (after run_through_app)

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from ui.attribution_view import MapCard, class_picker, colormap_picker, compute, map_cards, option_widget  # noqa: E402
from ui.layout import page_intro  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import attribution, cached, images, viz  # noqa: E402

CAM_METHODS = ("gradcam", "gradcam++", "scorecam", "guided-gradcam")
COMPARED = "gradcam_compared"  # session key: the request whose comparison the user asked for
CLASS_COLUMNS = [2, 2, 1, 1]  # first class, second class, opacity, colormap

page_intro(
    "Grad-CAM",
    "Warm colours mark where the chosen layer sees evidence for each class; compare two classes to see what tells them apart.",
    "The curves under each map show how fast the class probability falls when its hottest pixels are blurred away (deletion) and rises when only they are shown (insertion).",
)

selection = current_selection()
layers, default_layer = cached.cam_layers(selection.model_name)
method_column, layer_column, cap_column = st.columns([2, 2, 1])
method = method_column.radio("Method", CAM_METHODS, horizontal=True, key="gradcam_method",
                             format_func=attribution.METHOD_TITLES.get)
layer = layer_column.selectbox(
    "Layer", layers, index=layers.index(default_layer), key=f"gradcam_layer_{selection.model_name}",
    help="Defaults to the model's Grad-CAM layer: the last with a spatial map larger than 1 x 1.",
)
max_channels = option_widget(cap_column, "scorecam", "max_channels", "gradcam_scorecam_channels",
                             disabled=method != "scorecam")
options = {"max_channels": int(max_channels)} if method == "scorecam" else {}

first_column, second_column, opacity_column, colormap_column = st.columns(CLASS_COLUMNS)
with first_column:
    first_class = class_picker(selection, "First class", "gradcam_first", default_rank=0)
with second_column:
    second_class = class_picker(selection, "Second class", "gradcam_second", default_rank=1)
opacity = opacity_column.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="gradcam_opacity")
colormap = colormap_picker(colormap_column, "gradcam_colormap")

cards = []
for class_index, key in ((first_class, "first"), (second_class, "second")):
    computed = compute(selection, method, class_index, layer, **options)
    if computed:
        cards.append(MapCard(*computed, key=f"cam_{key}", parameters=options))
map_cards(selection, cards, CLASS_COLUMNS, opacity=opacity, colormap=colormap)  # under the two class pickers

st.subheader("Compare methods")
st.markdown(
    "Every method's map for the first class, ranked by deletion area: the most faithful map for this image comes first."
)
request = (selection.model_name, selection.image_key, first_class, layer)
if st.button("Compare all methods", key="gradcam_compare_run") or st.session_state.get(COMPARED) == request:
    st.session_state[COMPARED] = request
    progress = st.progress(0.0)
    ranked = []
    for position, name in enumerate(attribution.METHODS):
        progress.progress(position / len(attribution.METHODS), text=f"{attribution.METHOD_TITLES[name]}…")
        computed = compute(selection, name, first_class, layer if name in attribution.LAYER_METHODS else None)
        if computed:
            ranked.append(computed)
    progress.empty()
    ranked.sort(key=lambda pair: pair[1].deletion_area)
    view = images.fit_to_model(selection.pixels, selection.model.spec.input_size)
    tiles = [viz.overlay(view, viz.display_map(result.values, result.method), opacity, colormap) for result, _ in ranked]
    for column, (result, curves), tile in zip(st.columns(len(ranked)), ranked, tiles):
        column.image(tile, width="stretch")
        column.caption(f"**{attribution.METHOD_TITLES[result.method]}**  \ndeletion {curves.deletion_area:.3f}  \n"
                       f"insertion {curves.insertion_area:.3f}")
    ranking = [
        {"rank": rank, "method": result.method, "deletion_area": curves.deletion_area, "insertion_area": curves.insertion_area}
        for rank, (result, curves) in enumerate(ranked, start=1)
    ]
    record = {"parameters": selection.parameters(class_index=first_class, layer=layer), "ranking": ranking}
    row, ranking_column = st.columns(2)
    row.download_button("Row PNG", images.encode_png(viz.image_grid(np.stack(tiles), len(tiles))),
                        "compare_methods.png", "image/png", key="gradcam_compare_png")
    ranking_column.download_button("Ranking JSON", json.dumps(record, indent=2), "compare_methods.json",
                                   "application/json", key="gradcam_compare_json")
