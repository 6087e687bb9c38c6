"""Layout pieces the two attribution pages share: the class picker, and map cards (a map with its faithfulness)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.sidebar import Selection
from vizcore import attribution, cached, images, viz
from vizcore.attribution.methods import METHODS as METHOD_TABLE
from vizcore.attribution.methods import SLIDER
from vizcore.errors import VizcoreError

TOP_CLASSES = 5


def class_picker(selection: Selection, label: str, key: str, default_rank: int = 0) -> int:
    """A class index: the image's top classes first (with probabilities), then every class by name (type to search)."""
    probabilities = cached.class_probabilities(selection.model_name, selection.image_key, selection.pixels)
    names = selection.model.class_names
    top = [int(index) for index in np.argsort(-probabilities)[:TOP_CLASSES]]
    rest = sorted(set(range(len(probabilities))) - set(top), key=lambda index: names[index].lower())
    return st.selectbox(
        label, top + rest, index=default_rank, key=f"{key}_{selection.model_name}_{selection.image_key}",
        format_func=lambda index: f"{names[index]} · {probabilities[index]:.1%}",
        help="The image's top classes come first; type to find any other class by name.",
    )


DEFAULT_COLORMAP = "jet"
IG_COMPLETENESS_TOLERANCE = 0.05


def option_widget(container, method: str, option: str, key: str, input_size: int | None = None, **widget_options):
    """The widget for one option of a method, built from its row in the method table (label, default, range, help).

    The label is the method's title and the option's, e.g. "SmoothGrad samples"; ``widget_options``
    (``disabled``, ``format_func``...) pass through to Streamlit.
    """
    row = METHOD_TABLE[method]
    spec = row.option(option)
    label = f"{row.title} {spec.label.lower()}" + (f" ({spec.unit})" if spec.unit else "")
    if spec.choices:
        return container.radio(label, spec.choices, index=spec.choices.index(spec.default), key=key, help=spec.help,
                               **widget_options)
    upper = spec.upper(input_size)
    minimum = spec.kind(spec.minimum)
    step = spec.kind(spec.step) if spec.step is not None else None
    if spec.widget == SLIDER and upper is not None:
        return container.slider(label, minimum, spec.kind(upper), spec.default, step, key=key, help=spec.help,
                                **widget_options)
    maximum = spec.kind(upper) if upper is not None else None
    return container.number_input(label, minimum, maximum, spec.default, step, key=key, help=spec.help, **widget_options)


def colormap_picker(column, key: str) -> str:
    names = list(viz.COLORMAPS)
    return column.selectbox("Colormap", names, index=names.index(DEFAULT_COLORMAP), key=key)


def compute(selection: Selection, method: str, class_index: int, layer: str | None = None, **options):
    """The map and its faithfulness curves (cached), or None after showing the error sentence."""
    try:
        with st.spinner(f"Computing {attribution.METHOD_TITLES[method]}…"):
            arguments = (selection.model_name, selection.image_key, selection.pixels, method, class_index, layer, options)
            return cached.attribution_map(*arguments), cached.faithfulness_curves(*arguments)
    except VizcoreError as error:
        st.error(str(error))
        return None


def curves_chart(curves: attribution.FaithfulnessCurves, key: str) -> None:
    figure = go.Figure([
        go.Scatter(x=curves.fractions, y=curves.deletion, name=f"deletion · area {curves.deletion_area:.3f}", line_color="#d62728"),
        go.Scatter(x=curves.fractions, y=curves.insertion, name=f"insertion · area {curves.insertion_area:.3f}", line_color="#2ca02c"),
    ])
    figure.update_layout(
        height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="share of pixels changed",
        yaxis_title="class probability", yaxis_range=[0, 1.02],
        legend=dict(orientation="h", yanchor="top", y=-0.35, font_size=11),
    )
    st.plotly_chart(figure, key=key, config={"displayModeBar": False})


@dataclass(frozen=True)
class MapCard:
    """One computed map to show: the map, its faithfulness curves, a widget key prefix and the record's extra parameters."""

    result: attribution.AttributionMap
    curves: attribution.FaithfulnessCurves
    key: str
    parameters: dict = field(default_factory=dict)


def _card_parts(
    selection: Selection, card: MapCard, *, overlay: bool, opacity: float, colormap: str, scale_max: float | None,
) -> tuple[Callable[[], None], ...]:
    """The card's parts, top to bottom, each drawing into the current container: title, picture, curves, downloads."""
    result, curves, key = card.result, card.curves, card.key
    values = viz.display_map(result.values, result.method, scale_max)
    size = selection.model.spec.input_size
    picture = (
        viz.overlay(images.fit_to_model(selection.pixels, size), values, opacity, colormap)
        if overlay else viz.colorize(values, colormap)
    )
    caption = f"deletion {curves.deletion_area:.3f} (lower is better) · insertion {curves.insertion_area:.3f} (higher is better)"
    if "completeness_error" in result.details:
        error = result.details["completeness_error"]
        caption += f" · completeness error {error:.1%}"
        if error > IG_COMPLETENESS_TOLERANCE:
            caption += " (raise the IG steps for a more exact map)"

    def downloads() -> None:
        record = {
            "parameters": selection.parameters(method=result.method, class_index=result.class_index, label=result.label,
                                               layer=result.layer, **card.parameters),
            "class_probability": result.probability,
            "details": result.details,
            "deletion_area": curves.deletion_area,
            "insertion_area": curves.insertion_area,
            "deletion_curve": curves.deletion.tolist(),
            "insertion_curve": curves.insertion.tolist(),
            "fractions": curves.fractions.tolist(),
        }
        array_buffer = io.BytesIO()
        np.save(array_buffer, result.values.astype(np.float32))
        name = f"{result.method}_{result.class_index}"
        png, npy, jsn = st.columns(3)
        png.download_button("PNG", images.encode_png(picture), f"{name}.png", "image/png", key=f"{key}_png")
        npy.download_button("NPY", array_buffer.getvalue(), f"{name}.npy", "application/octet-stream", key=f"{key}_npy")
        jsn.download_button("JSON", json.dumps(record, indent=2), f"{name}.json", "application/json", key=f"{key}_json")

    return (
        lambda: st.markdown(f"**{attribution.METHOD_TITLES[result.method]}** · {result.label}"),
        lambda: st.image(picture, caption=caption, width="stretch"),
        lambda: curves_chart(curves, key=f"{key}_curves_chart"),
        downloads,
    )


def map_card(selection: Selection, card: MapCard, *, overlay: bool = True, opacity: float = 0.5,
             colormap: str = DEFAULT_COLORMAP, scale_max: float | None = None) -> None:
    """One map in the current container: its title, the picture, its deletion/insertion curves and its downloads."""
    for draw in _card_parts(selection, card, overlay=overlay, opacity=opacity, colormap=colormap, scale_max=scale_max):
        draw()


def map_cards(selection: Selection, cards: list[MapCard], columns: int | list[int], *, overlay: bool = True,
              opacity: float = 0.5, colormap: str = DEFAULT_COLORMAP, scale_max: float | None = None) -> None:
    """Maps side by side, the n-th card in the n-th of ``st.columns(columns)``.

    Each part (titles, pictures, curves, downloads) is a row of its own, so the pictures and curves
    line up across the cards even when one title or caption wraps onto more lines than the others.
    """
    parts = [_card_parts(selection, card, overlay=overlay, opacity=opacity, colormap=colormap, scale_max=scale_max)
             for card in cards]
    for row in zip(*parts):
        for column, draw in zip(st.columns(columns), row):
            with column:
                draw()
