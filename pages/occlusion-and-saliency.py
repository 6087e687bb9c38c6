"""Occlusion & saliency: which pixels the chosen class depends on, by the model's gradients and by hiding patches.

The cheap maps (saliency, guided backprop: one gradient each) show at once; SmoothGrad,
Integrated Gradients and occlusion take one gradient or forward pass per sample, step or patch,
so each runs on its own Run button with progress, Stop and a partial map that fills in
(ui/live_run.py). Their finished maps are kept, so coming back to the same settings is instant.
"""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import streamlit as st  # noqa: E402  (after run_through_app)

from ui.animation_view import RunAnimation  # noqa: E402
from ui.attribution_view import (  # noqa: E402
    MapCard, class_picker, colormap_picker, compute, curves_of_run, map_card, map_cards, map_picture, option_widget,
)
from ui.layout import page_intro  # noqa: E402
from ui.live_run import StoppedRun, live_run, partial_map_progress  # noqa: E402
from ui.report_view import report_button, report_entry  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import attribution, cached, viz  # noqa: E402
from vizcore.attribution.methods import METHODS as METHOD_TABLE  # noqa: E402

CHEAP_METHODS = ("saliency", "guided")  # one gradient each: computed as the page opens
LIVE_GRADIENT_METHODS = ("smoothgrad", "ig")  # one gradient per sample or step: Run / Stop
GRADIENT_METHODS = ("saliency", "guided", "smoothgrad", "ig")
# What a live run's progress counts, per method.
UNITS = {"occlusion": "patched images", "smoothgrad": "noisy samples", "ig": "gradients"}
PREVIEW_INTERVAL_S = 0.3  # at most about three partial maps a second: each is a picture sent to the browser
FILL_LABELS = {"grey": "grey", "mean": "image mean", "blur": "blurred patch"}
ANIMATED_METHODS = ("occlusion",)  # its sweep is recorded frame by frame: GIF / MP4 downloads under its map

page_intro(
    "Occlusion & saliency",
    "Warm colours mark the pixels the chosen class depends on, found by the model's gradients and by hiding patches of the image.",
    "Saliency and guided backprop show at once; SmoothGrad, Integrated Gradients and occlusion each run on their button, "
    "with a map that fills in as they go. Under each map, the deletion curve shows the class probability falling as its "
    "top pixels are blurred away (the smaller the area, the more faithful the map).",
)

selection = current_selection()
class_column, overlay_column, opacity_column, colormap_column = st.columns([3, 1, 1, 1])
with class_column:
    class_index = class_picker(selection, "Explain the class", "saliency_class")
overlay = overlay_column.toggle("Overlay", True, key="saliency_overlay")
opacity = opacity_column.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="saliency_opacity", disabled=not overlay)
colormap = colormap_picker(colormap_column, "saliency_colormap")
input_size = selection.model.spec.input_size
look = {"overlay": overlay, "opacity": opacity, "colormap": colormap}
report_area = st.container()  # the Report download, filled in once the maps below are drawn
reported = []  # a report entry for every map shown, in page order


def method_options(method: str, per_row: int, **widget_options) -> dict:
    """Every option of ``method`` from its row in the method table, one widget each, ``per_row`` to a row."""
    options = METHOD_TABLE[method].options
    values = {}
    for first in range(0, len(options), per_row):
        for column, option in zip(st.columns(per_row), options[first : first + per_row]):
            values[option.name] = option_widget(column, method, option.name, f"saliency_{method}_{option.name}",
                                                input_size, **widget_options.get(option.name, {}))
    return values


def card_key(method: str) -> str:
    # Not "saliency_...": app.py writes keys with the page's prefix back every run, which a card's buttons refuse.
    return f"card_{method}"


def request_of(method: str, options: dict) -> tuple:
    return (selection.model_name, selection.image_key, method, class_index, tuple(sorted(options.items())))


def run_button_label(method: str, options: dict) -> str:
    """"Run Occlusion (169 patched images)": what the run will cost (IG's steps are a cap under a tolerance)."""
    if method == "occlusion":
        count = f"{len(attribution.patch_positions(input_size, options['patch'], options['stride']))}"
    elif method == "ig":
        count = f"up to {options['steps']}"
    else:
        count = f"{options['samples']}"
    return f"Run {attribution.METHOD_TITLES[method]} ({count} {UNITS[method]})"


def live_map(method: str, options: dict, scale_max: float | None = None) -> None:
    """A Run button for ``method``; the map filling in while it runs; then its card (kept for these settings)."""
    title = attribution.METHOD_TITLES[method]
    movie = RunAnimation(f"saliency_{method}", request_of(method, options))

    def work(on_progress):
        if method in ANIMATED_METHODS:
            on_progress = movie.recording(on_progress, lambda update: map_picture(selection, update.values, method, **look))
        return movie.keep(attribution.explain(selection.model, selection.pixels, method, class_index,
                                              progress=partial_map_progress(on_progress), **options))

    result = live_run(
        f"saliency_{method}", request_of(method, options), run_button_label(method, options), work,
        lambda update: map_picture(selection, update.values, method, **look),
        caption_of=lambda update: f"{title} so far: {update.step} of {update.steps} {UNITS[method]}",
        unit=UNITS[method], preview_interval_s=PREVIEW_INTERVAL_S,
    )
    if isinstance(result, StoppedRun):
        st.image(result.preview, caption=f"{title} after {result.step} of {result.steps} {UNITS[method]}",
                 width="stretch")
    elif result is not None:
        curves = curves_of_run(selection, result, options)
        map_card(selection, MapCard(result, curves, key=card_key(method), parameters=options),
                 scale_max=scale_max, **look)
        reported.append(report_entry(method, result, curves(), **options))
        movie.downloads(*st.columns(2), f"{method}_{result.class_index}")


st.subheader("Gradients")
chosen = st.multiselect(
    "Methods", GRADIENT_METHODS, default=list(GRADIENT_METHODS), key="saliency_methods",
    format_func=attribution.METHOD_TITLES.get,
)
shared_scale = st.radio("Colour scale", ("per map", "shared"), key="saliency_scale", horizontal=True,
                        help="Shared: the gradient maps use one scale, so their strengths compare.") == "shared"

cheap_area = st.container()  # the cheap maps, drawn first, above the live runs' options
with cheap_area:
    cheap = {method: compute(selection, method, class_index) for method in CHEAP_METHODS if method in chosen}
cheap = {method: computed for method, computed in cheap.items() if computed}
live_columns = {method: column for method, column in zip(
    [method for method in LIVE_GRADIENT_METHODS if method in chosen], st.columns(2))}
live_options = {}
for method, column in live_columns.items():
    with column:
        live_options[method] = method_options(method, per_row=2)
scale_max = None
if shared_scale:  # over the maps shown now: the cheap ones and any finished live run
    finished = [cached.result_store(f"saliency_{method}").get(request_of(method, options))
                for method, options in live_options.items()]
    shown = [result for result, _ in cheap.values()] + [result for result in finished if result is not None]
    scale_max = max((viz.display_top(result.values, result.method) for result in shown), default=0.0) or None
if cheap:
    cards = [MapCard(result, curves, key=card_key(method)) for method, (result, curves) in cheap.items()]
    with cheap_area:
        map_cards(selection, cards, len(cards), scale_max=scale_max, **look)
    reported += [report_entry(method, result, curves()) for method, (result, curves) in cheap.items()]
for method, column in live_columns.items():
    with column:
        live_map(method, live_options[method], scale_max)

st.subheader("Occlusion")
occlusion_options = method_options("occlusion", per_row=4, fill={"format_func": FILL_LABELS.get})
with st.columns(2)[0]:  # as wide as one gradient map, not the whole page
    live_map("occlusion", occlusion_options)
report_button(report_area, selection, reported, key="saliency_report")
