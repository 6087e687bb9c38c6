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
from vizcore.attribution.path_integrals import completeness_summary
from vizcore.errors import VizcoreError
from vizcore.models.layers import block_of

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


AUTO_COLORMAP = "auto"  # the colormap picker's choice for each method's own colormap (viz.map_colormap)


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


def colormap_picker(column, key: str) -> str | None:
    """A colormap name, or None for each method's own (``viz.map_colormap``: inferno for gradient maps, jet for CAMs)."""
    names = [AUTO_COLORMAP, *viz.COLORMAPS]
    chosen = column.selectbox("Colormap", names, index=names.index(AUTO_COLORMAP), key=key,
                              help="auto: inferno for gradient maps, jet for the others")
    return None if chosen == AUTO_COLORMAP else chosen


def compute(selection: Selection, method: str, class_index: int, layer: str | None = None, **options):
    """The map (cached) and a function that computes its faithfulness curves (cached), or None after showing the error.

    The curves cost about as much as a cheap map, so a page draws the maps first and lets
    ``map_cards`` compute the curves under them.
    """
    try:
        with st.spinner(f"Computing {attribution.METHOD_TITLES[method]}…"):
            arguments = (selection.model_name, selection.image_key, selection.pixels, method, class_index, layer, options)
            return cached.attribution_map(*arguments), lambda: cached.faithfulness_curves(*arguments)
    except VizcoreError as error:
        st.error(str(error))
        return None


def curves_of_run(
    selection: Selection, result: attribution.AttributionMap, options: dict,
) -> Callable[[], attribution.FaithfulnessCurves]:
    """A function that computes (cached) the faithfulness curves of a map that a live run computed."""
    arguments = (selection.model_name, selection.image_key, selection.pixels, result.method, result.class_index,
                 result.layer, options, result.values)
    return lambda: cached.faithfulness_curves_of(*arguments)


def map_picture(selection: Selection, values: np.ndarray, method: str, *, overlay: bool, opacity: float,
                colormap: str | None, scale_max: float | None = None) -> np.ndarray:
    """An S x S map as the cards show it, RGB uint8: also a live run's partial map.

    ``viz.map_picture``: a gradient map next to the image and over it, any other map over the
    image; with ``overlay`` False the map alone. ``colormap`` None: the method's own.
    """
    view = images.fit_to_model(selection.pixels, selection.model.spec.input_size)
    return viz.map_picture(view, viz.display_map(values, method, scale_max), method, opacity, colormap, overlay)


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
    curves: attribution.FaithfulnessCurves | Callable[[], attribution.FaithfulnessCurves]  # or computed when drawn
    key: str
    parameters: dict = field(default_factory=dict)


SANITY_ASKED = "sanity_checks_asked"  # session key: the map requests whose sanity check the user asked for


def sanity_part(selection: Selection, card: MapCard) -> Callable[[], None]:
    """A card's sanity check (Adebayo et al. 2018), on demand: a button, then a passes/fails badge with its curve.

    It costs one map per randomised depth, so it runs only when asked; once asked for a map it is
    shown on every rerun (cached). Grad-CAM++ at a layer where the class barely matters says so here.
    """
    result = card.result

    def draw() -> None:
        caveat = attribution.cam_caveat(selection.model, result.method, result.layer, result.contrast_class)
        if caveat:
            st.caption(f"⚠️ {caveat}")
        takes = METHOD_TABLE[result.method].defaults()
        options = {name: value for name, value in card.parameters.items() if name in takes}
        request = (selection.model_name, selection.image_key, result.method, result.class_index, result.layer,
                   result.contrast_class, tuple(sorted(options.items())))
        asked = st.session_state.setdefault(SANITY_ASKED, set())
        if request not in asked:
            if not st.button("Sanity check", key=f"{card.key}_sanity", help=(
                    "Recompute this map with the model's top layers re-initialised, from the logits down, and "
                    "compare: a map that does not change explains nothing the model learned.")):
                return
            asked.add(request)
        try:
            with st.spinner("Re-initialising the top layers, one map per depth…"):
                check = cached.sanity_check(selection.model_name, selection.image_key, selection.pixels, result.method,
                                            result.class_index, result.layer, result.contrast_class, options, result)
        except VizcoreError as error:
            st.error(str(error))
            return
        sanity_badge(check, key=f"{card.key}_sanity_chart")

    return draw


def sanity_badge(check: attribution.SanityCheck, key: str) -> None:
    """A passes/fails badge, and the Spearman correlation with the original map at each randomised depth."""
    if check.passes:
        st.badge("passes sanity check", icon=":material/check_circle:", color="green")
    else:
        st.badge("fails sanity check", icon=":material/warning:", color="red")
    rows = check.correlations
    depths = [("" if depth == 0 else "+ ") + block_of(row["randomised"][-1]) for depth, row in enumerate(rows)]
    figure = go.Figure(go.Scatter(x=depths, y=[row["spearman"] for row in rows], mode="lines+markers",
                                  line_color="#2ca02c" if check.passes else "#d62728"))
    figure.add_hline(y=check.threshold, line_dash="dot", line_color="grey")
    figure.update_layout(height=180, margin=dict(l=10, r=10, t=10, b=10), yaxis_range=[-1.05, 1.05],
                         yaxis_title="Spearman", xaxis_title="re-initialised, from the top")
    st.plotly_chart(figure, key=key, config={"displayModeBar": False})
    curve = " → ".join(f"{row['spearman']:+.2f}" for row in rows)
    st.caption(f"Rank correlation with the original map as the top blocks are re-initialised: {curve}. "
               f"Below {check.threshold:g} at the deepest passes: the map depends on the learned weights.")


def _card_parts(
    selection: Selection, card: MapCard, *, overlay: bool, opacity: float, colormap: str, scale_max: float | None,
) -> tuple[Callable[[], None], ...]:
    """The card's parts, top to bottom, each drawing into the current container: title, picture, curves, downloads."""
    result, key = card.result, card.key
    picture = map_picture(selection, result.values, result.method, overlay=overlay, opacity=opacity, colormap=colormap,
                          scale_max=scale_max)
    known_curves = [] if callable(card.curves) else [card.curves]

    def curves_now() -> attribution.FaithfulnessCurves:
        """The curves, computed on first use: the picture is drawn before them."""
        if not known_curves:
            with st.spinner("Deletion and insertion curves…"):
                known_curves.append(card.curves())
        return known_curves[0]

    caption = ""
    if "completeness_error" in result.details:
        caption += completeness_summary(result.details)
    if "seed" in result.details:
        caption = " · ".join(filter(None, [caption, f"noise seed {result.details['seed']}"]))

    def faithfulness() -> None:
        curves = curves_now()
        curves_chart(curves, key=f"{key}_curves_chart")
        st.caption(f"deletion {curves.deletion_area:.3f} (lower is better) · insertion {curves.insertion_area:.3f} "
                   f"(higher is better) · score {curves.score:.3f} (insertion − deletion)")

    def downloads() -> None:
        curves = curves_now()
        record = {
            "parameters": selection.parameters(method=result.method, class_index=result.class_index, label=result.label,
                                               layer=result.layer, **card.parameters),
            "class_probability": result.probability,
            "contrast_class": result.contrast_class,
            "contrast_label": result.contrast_label,
            "details": result.details,
            "deletion_area": curves.deletion_area,
            "insertion_area": curves.insertion_area,
            "faithfulness_score": curves.score,
            "deletion_curve": curves.deletion.tolist(),
            "insertion_curve": curves.insertion.tolist(),
            "fractions": curves.fractions.tolist(),
        }
        array_buffer = io.BytesIO()
        np.save(array_buffer, result.saved())  # gradient maps: the signed S x S x 3 gradient
        name = f"{result.method}_{result.class_index}"
        png, npy, jsn = st.columns(3)
        png.download_button("PNG", images.encode_png(picture), f"{name}.png", "image/png", key=f"{key}_png")
        npy.download_button("NPY", array_buffer.getvalue(), f"{name}.npy", "application/octet-stream", key=f"{key}_npy")
        jsn.download_button("JSON", json.dumps(record, indent=2), f"{name}.json", "application/json", key=f"{key}_json")

    return (
        lambda: st.markdown(f"**{attribution.METHOD_TITLES[result.method]}** · {map_subject(result)}"),
        lambda: st.image(picture, caption=caption or None, width="stretch"),
        sanity_part(selection, card),
        faithfulness,
        downloads,
    )


def map_subject(result: attribution.AttributionMap) -> str:
    """What a map explains, for its title: ``tiger cat``, or ``Egyptian cat against tiger cat`` for a contrastive map."""
    if result.contrast_label is None:
        return result.label
    return f"{result.label} against {result.contrast_label}"


def map_card(selection: Selection, card: MapCard, *, overlay: bool = True, opacity: float = 0.5,
             colormap: str | None = None, scale_max: float | None = None) -> None:
    """One map in the current container: its title, the picture, its deletion/insertion curves and its downloads."""
    for draw in _card_parts(selection, card, overlay=overlay, opacity=opacity, colormap=colormap, scale_max=scale_max):
        draw()


def map_cards(selection: Selection, cards: list[MapCard], columns: int | list[int], *, overlay: bool = True,
              opacity: float = 0.5, colormap: str | None = None, scale_max: float | None = None) -> None:
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


@dataclass(frozen=True)
class Compared:
    """Every method's map and curves for one class so far (``step`` of ``steps`` methods); a failed method's sentence."""

    step: int
    steps: int
    maps: dict = field(default_factory=dict)  # method -> AttributionMap
    curves: dict = field(default_factory=dict)  # method -> FaithfulnessCurves
    errors: dict = field(default_factory=dict)  # method -> the one sentence it raised


def compare_methods(selection: Selection, class_index: int, layer: str | None, on_progress) -> Compared:
    """Every method at its defaults for ``class_index`` (``layer`` for the CAM methods), then its curves, one method at
    a time, reporting a Compared after each to ``on_progress`` (ui/live_run.py: Stop ends the run between two)."""
    names = list(attribution.METHODS)
    maps, curves, errors = {}, {}, {}
    for position, name in enumerate(names, start=1):
        arguments = (selection.model_name, selection.image_key, selection.pixels, name, class_index,
                     layer if name in attribution.LAYER_METHODS else None, {})
        try:
            maps[name] = cached.attribution_map(*arguments)
            curves[name] = cached.faithfulness_curves(*arguments)
        except VizcoreError as error:
            errors[name] = str(error)
        on_progress(Compared(position, len(names), maps, curves, errors))
    return Compared(len(names), len(names), maps, curves, errors)
