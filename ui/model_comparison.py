"""Two models side by side on the Predictions and Grad-CAM pages, when the sidebar has a second model.

Each page calls one function when ``selection.compare_name`` is set. The second model runs on the
same image through the same cached calls as the first (``vizcore.cached``: a shared model is
never changed); ``vizcore.comparison`` says where they differ.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.attribution_view import compute, map_picture
from ui.sidebar import Selection
from vizcore import attribution, cached, comparison, images, viz
from vizcore.errors import VizcoreError


def second_selection(selection: Selection) -> Selection:
    """The same image with the second model as the model."""
    return dataclasses.replace(selection, model_name=selection.compare_name, compare_name=None)


def _model_title(selection: Selection) -> str:
    return selection.model.spec.display_name


def _probability_chart(probabilities: np.ndarray, names: list[str], top_k: int, key: str) -> None:
    top = np.argsort(-probabilities, kind="stable")[:top_k]
    figure = go.Figure(go.Bar(
        x=[float(probabilities[index]) for index in top], y=[f"{names[index]} ({index})" for index in top],
        orientation="h", text=[f"{probabilities[index]:.1%}" for index in top], textposition="outside", textangle=0,
        cliponaxis=False, hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))
    figure.update_layout(xaxis=dict(title="probability", range=[0, 1], tickformat=".0%"),
                         yaxis=dict(autorange="reversed"), height=max(200, 36 * len(top) + 80),
                         margin=dict(l=10, r=60, t=10, b=40))
    st.plotly_chart(figure, key=key, config={"displayModeBar": False})


def _agreement_sentence(result: comparison.PredictionComparison, first: str, second: str) -> str:
    if result.same_top_class:
        opening = f"Both put **{result.first_top}** first"
    else:
        opening = f"They disagree on the top class: {first} says **{result.first_top}**, {second} **{result.second_top}**"
    return f"{opening}; {result.shared_top_k} of their top {result.top_k} classes are the same."


def compare_predictions(selection: Selection, top_k: int) -> None:
    """Both models' top ``top_k`` classes side by side, then one table of where their probabilities differ."""
    other = second_selection(selection)
    try:
        vectors = [cached.class_probabilities(side.model_name, side.image_key, side.pixels) for side in (selection, other)]
        result = comparison.compare_predictions(vectors[0], selection.model.class_names, vectors[1],
                                                other.model.class_names, top_k)
    except VizcoreError as error:
        st.error(str(error))
        return
    first, second = _model_title(selection), _model_title(other)
    st.subheader(f"Side by side with {second}")
    for column, side, probabilities, key in zip(st.columns(2), (selection, other), vectors, ("first", "second")):
        with column:
            st.markdown(f"**{_model_title(side)}**")
            _probability_chart(probabilities, side.model.class_names, top_k, key=f"compare_{key}_chart")
    st.markdown(_agreement_sentence(result, first, second))
    table = [row.as_dict() for row in result.rows]
    st.dataframe(table, hide_index=True, column_config={
        "label": st.column_config.TextColumn("Class"),
        "first_rank": st.column_config.NumberColumn(f"Rank · {first}", help="1 is the top class; empty: no such class."),
        "first_probability": st.column_config.NumberColumn(f"Probability · {first}", format="%.3f"),
        "second_rank": st.column_config.NumberColumn(f"Rank · {second}"),
        "second_probability": st.column_config.NumberColumn(f"Probability · {second}", format="%.3f"),
        "difference": st.column_config.NumberColumn("Difference", format="%+.3f",
                                                    help=f"{first}'s probability minus {second}'s."),
    })
    st.caption(f"Every class in either model's top {top_k}, lined up by class name.")
    record = {"parameters": selection.parameters(top_k=top_k, compare_model=other.model_name), **result.as_dict()}
    st.download_button("Comparison JSON", json.dumps(record, indent=2), "predictions_comparison.json",
                       "application/json", key="compare_predictions_json")


def _second_class(selection: Selection, other: Selection, class_index: int) -> tuple[int, str | None]:
    """The second model's class for the first's ``class_index`` (by name), else its own top class and why."""
    label = selection.model.class_names[class_index]
    matched = comparison.matching_class(label, other.model.class_names)
    if matched is not None:
        return matched, None
    probabilities = cached.class_probabilities(other.model_name, other.image_key, other.pixels)
    top = int(np.argmax(probabilities))
    return top, (f"{_model_title(other)} has no class {label!r}: its map is for its own top class "
                 f"{other.model.class_names[top]!r}.")


def compare_maps(selection: Selection, method: str, class_index: int, layer: str, options: dict, *,
                 opacity: float, colormap: str | None) -> None:
    """The first class's map from both models side by side, and their difference as a picture and two numbers.

    The second model uses ``layer`` when it has a layer of that name, else its own default CAM layer.
    """
    other = second_selection(selection)
    try:
        other_layers, other_default = cached.cam_layers(other.model_name)
        other_layer = layer if layer in other_layers else other_default
        other_class, class_note = _second_class(selection, other, class_index)
    except VizcoreError as error:
        st.error(str(error))
        return
    first, second = _model_title(selection), _model_title(other)
    st.subheader(f"Side by side with {second}")
    computed = [compute(selection, method, class_index, layer, **options),
                compute(other, method, other_class, other_layer, **options)]
    if not all(computed):
        return
    results = [result for result, _ in computed]
    size = selection.model.spec.input_size
    difference = comparison.map_difference(*(viz.display_map(result.values, method) for result in results), size)
    picture = viz.diverging(difference.difference)
    titles = [f"**{name}** · {result.label} · {result.layer}" for name, result in zip((first, second), results)]
    for column, title in zip(st.columns(3), [*titles, f"**Difference** · {attribution.METHOD_TITLES[method]}"]):
        column.markdown(title)  # a row of titles, then a row of pictures: they line up when a title wraps
    columns = st.columns(3)
    for column, side, result in zip(columns, (selection, other), results):
        column.image(map_picture(side, result.values, method, overlay=True, opacity=opacity, colormap=colormap),
                     width="stretch")
    columns[2].image(picture, width="stretch",
                     caption=f"mean absolute difference {difference.mean_absolute:.3f} · "
                             f"correlation {difference.correlation:+.2f}")
    st.caption(f"Right: red where {first}'s map is stronger, blue where {second}'s is; each map scaled as shown "
               "(0 to 1). Mean absolute difference: 0 for the same map, 1 for opposite maps.")
    if class_note:
        st.info(class_note)
    record = {
        "parameters": selection.parameters(method=method, class_index=class_index, layer=layer, **options,
                                           compare_model=other.model_name, compare_class_index=other_class,
                                           compare_layer=other_layer),
        "labels": [result.label for result in results],
        **difference.summary(),
    }
    png_column, json_column, _ = st.columns([1, 1, 3])
    png_column.download_button("Difference PNG", images.encode_png(picture), "cam_difference.png", "image/png",
                               key="compare_cam_png")
    json_column.download_button("Difference JSON", json.dumps(record, indent=2), "cam_difference.json",
                                "application/json", key="compare_cam_json")
