"""Grad-CAM: where in the image a late convolutional layer finds evidence for a class, two classes side by side."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import json  # noqa: E402  (after run_through_app)

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from ui.attribution_view import (  # noqa: E402
    Compared, MapCard, class_picker, colormap_picker, compare_methods, compute, map_cards, option_widget,
)
from ui.layout import page_intro  # noqa: E402
from ui.live_run import StoppedRun, live_run  # noqa: E402
from ui.model_comparison import compare_maps  # noqa: E402
from ui.report_view import report_button, report_entry  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import attribution, cached, images, viz  # noqa: E402

CAM_METHODS = ("gradcam", "gradcam++", "scorecam", "guided-gradcam")
CLASS_COLUMNS = [2, 2, 1, 1]  # first class, second class, opacity, colormap
MAP_COLUMNS = [2, 2, 2]  # first class, second class, first against second

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
report_area = st.container()  # the Report download, filled in at the end, once the maps are known

cards = []
for class_index, key in ((first_class, "first"), (second_class, "second")):
    computed = compute(selection, method, class_index, layer, **options)
    if computed:
        cards.append(MapCard(*computed, key=f"cam_{key}", parameters=options))
if first_class != second_class:  # the third panel: what tells them apart
    contrast = {**options, "contrast_class": second_class}
    computed = compute(selection, method, first_class, layer, **contrast)
    if computed:
        cards.append(MapCard(*computed, key="cam_contrast", parameters=contrast))
map_cards(selection, cards, MAP_COLUMNS, opacity=opacity, colormap=colormap)  # under the two class pickers
if first_class != second_class:
    st.caption("Right: what tells them apart, the evidence for the first class against the second (the gradient of the "
               "first class's score minus the second's; for Score-CAM, how much each channel favours the first).")
else:
    st.info("Pick two different classes to see what tells them apart.")
if selection.compare_name:  # the sidebar's "Compare with…": the first class's map from both models
    compare_maps(selection, method, first_class, layer, options, opacity=opacity, colormap=colormap)

st.subheader("Compare methods")
st.markdown(
    "Every method's map for the first class, ranked by how faithful it is on this image: the **score** is the "
    "insertion area minus the deletion area (-1 to 1, higher is better): both count, how fast the class "
    "probability falls as the map's top pixels are blurred away and how fast it rises when only they are shown. "
    "The two often disagree, so the rank by each alone is shown beside it; click a column's header to sort by it."
)


def tiles_so_far(update: Compared) -> np.ndarray | None:
    view = images.fit_to_model(selection.pixels, selection.model.spec.input_size)
    tiles = [viz.map_overlay(view, viz.display_map(result.values, name), name, opacity, colormap)
             for name, result in update.maps.items()]
    return viz.image_grid(np.stack(tiles), len(tiles)) if tiles else None


compared = live_run(
    "gradcam_compare", (selection.model_name, selection.image_key, first_class, layer), "Compare all methods",
    lambda on_progress: compare_methods(selection, first_class, layer, on_progress), tiles_so_far,
    caption_of=lambda update: f"{update.step} of {update.steps} methods so far", unit="methods",
)
if isinstance(compared, StoppedRun):
    st.image(compared.preview, caption=f"The first {compared.step} of {compared.steps} methods", width="stretch")
if isinstance(compared, Compared):
    for name, sentence in compared.errors.items():
        st.warning(f"{attribution.METHOD_TITLES[name]}: {sentence}")
if isinstance(compared, Compared) and compared.curves:
    computed, curves = compared.maps, compared.curves
    ranked = attribution.rank_methods(curves)
    view = images.fit_to_model(selection.pixels, selection.model.spec.input_size)
    tiles = [viz.map_overlay(view, viz.display_map(computed[row.method].values, row.method), row.method, opacity,
                             colormap) for row in ranked]
    for column, row, tile in zip(st.columns(len(ranked)), ranked, tiles):
        column.image(tile, width="stretch")
        column.caption(f"**{row.rank}. {attribution.METHOD_TITLES[row.method]}**  \nscore {row.score:.3f}")
    table = [
        {"rank": row.rank, "method": attribution.METHOD_TITLES[row.method], "score": row.score,
         "deletion_area": row.deletion_area, "insertion_area": row.insertion_area,
         "deletion_rank": row.deletion_rank, "insertion_rank": row.insertion_rank}
        for row in ranked
    ]
    st.dataframe(
        table, hide_index=True,
        column_config={
            "rank": st.column_config.NumberColumn("Rank", help="By the score: 1 is the most faithful map here."),
            "method": st.column_config.TextColumn("Method"),
            "score": st.column_config.NumberColumn("Score", format="%.3f", help="Insertion area minus deletion area."),
            "deletion_area": st.column_config.NumberColumn("Deletion area", format="%.3f", help="Lower is better."),
            "insertion_area": st.column_config.NumberColumn("Insertion area", format="%.3f", help="Higher is better."),
            "deletion_rank": st.column_config.NumberColumn("Rank by deletion"),
            "insertion_rank": st.column_config.NumberColumn("Rank by insertion"),
        },
    )
    agreement = attribution.kendall_tau([row.deletion_rank for row in ranked], [row.insertion_rank for row in ranked])
    st.caption(f"Deletion and insertion rank these maps alike at Kendall tau {agreement:.2f} "
               "(1: the same order, 0: unrelated, -1: reversed).")
    ranking = [{**entry, "method": row.method} for entry, row in zip(table, ranked)]
    record = {
        "parameters": selection.parameters(class_index=first_class, layer=layer),
        "score": "insertion_area - deletion_area (higher is more faithful); rank 1 is the best, ties share a rank",
        "deletion_insertion_kendall_tau": agreement,
        "ranking": ranking,
    }
    row_column, ranking_column = st.columns(2)
    row_column.download_button("Row PNG", images.encode_png(viz.image_grid(np.stack(tiles), len(tiles))),
                               "compare_methods.png", "image/png", key="gradcam_compare_png")
    ranking_column.download_button("Ranking JSON", json.dumps(record, indent=2), "compare_methods.json",
                                   "application/json", key="gradcam_compare_json")

# The Report: the first class's map, and once "Compare all methods" has run, every other method's map for it.
first_card = next((card for card in cards if card.key == "cam_first"), None)
reported = [] if first_card is None else [report_entry(method, first_card.result, first_card.curves(), layer, **options)]
if isinstance(compared, Compared):
    reported += [report_entry(name, compared.maps[name], compared.curves[name],
                              layer if name in attribution.LAYER_METHODS else None)
                 for name in compared.curves if name != method]
report_button(report_area, selection, reported, key="gradcam_report")
