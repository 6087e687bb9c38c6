"""Occlusion & saliency: which pixels the chosen class depends on, by hiding patches and by gradients."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import streamlit as st  # noqa: E402  (after run_through_app)

from ui.attribution_view import MapCard, class_picker, colormap_picker, compute, map_card, map_cards, option_widget  # noqa: E402
from ui.layout import page_intro  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import attribution, viz  # noqa: E402

GRADIENT_METHODS = ("saliency", "smoothgrad", "ig", "guided")

page_intro(
    "Occlusion & saliency",
    "Warm colours mark the pixels the chosen class depends on, found by hiding patches of the image and by the model's gradients.",
    "Under each map, the deletion curve shows the class probability falling as its top pixels are blurred away: the faster it falls (the smaller the area), the more faithful the map.",
)

selection = current_selection()
class_column, overlay_column, opacity_column, colormap_column = st.columns([3, 1, 1, 1])
with class_column:
    class_index = class_picker(selection, "Explain the class", "saliency_class")
overlay = overlay_column.toggle("Overlay", True, key="saliency_overlay")
opacity = opacity_column.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="saliency_opacity", disabled=not overlay)
colormap = colormap_picker(colormap_column, "saliency_colormap")

st.subheader("Occlusion")
patch_column, stride_column, fill_column, map_column = st.columns([1, 1, 1, 2])
input_size = selection.model.spec.input_size
patch = option_widget(patch_column, "occlusion", "patch", "saliency_patch", input_size)
stride = option_widget(stride_column, "occlusion", "stride", "saliency_stride", input_size)
fill = option_widget(fill_column, "occlusion", "fill", "saliency_fill",
                     format_func={"grey": "grey", "mean": "image mean", "blur": "blurred patch"}.get)
patch_count = len(attribution.patch_positions(input_size, patch, stride))
fill_column.caption(f"{patch_count} patched images")
with map_column:
    computed = compute(selection, "occlusion", class_index, patch=patch, stride=stride, fill=fill)
    if computed:
        map_card(selection, MapCard(*computed, key="occlusion", parameters={"patch": patch, "stride": stride, "fill": fill}),
                 overlay=overlay, opacity=opacity, colormap=colormap)

st.subheader("Gradients")
chosen = st.multiselect(
    "Methods", GRADIENT_METHODS, default=list(GRADIENT_METHODS), key="saliency_methods",
    format_func=attribution.METHOD_TITLES.get,
)
samples_column, noise_column, steps_column, baseline_column, scale_column = st.columns(5)
samples = option_widget(samples_column, "smoothgrad", "samples", "saliency_samples")
noise = option_widget(noise_column, "smoothgrad", "noise", "saliency_noise")
steps = option_widget(steps_column, "ig", "steps", "saliency_ig_steps")
baseline = option_widget(baseline_column, "ig", "baseline", "saliency_ig_baseline")
shared_scale = scale_column.radio("Colour scale", ("per map", "shared"), key="saliency_scale",
                                  help="Shared: the gradient maps use one scale, so their strengths compare.") == "shared"

options = {"smoothgrad": {"samples": samples, "noise": noise}, "ig": {"steps": steps, "baseline": baseline}}
results = {method: compute(selection, method, class_index, **options.get(method, {})) for method in chosen}
results = {method: computed for method, computed in results.items() if computed}
scale_max = None
if shared_scale and results:
    scale_max = max(viz.display_top(result.values) for result, _ in results.values()) or None
cards = [MapCard(result, curves, key=method, parameters=options.get(method, {}))
         for method, (result, curves) in results.items()]
if cards:
    map_cards(selection, cards, len(cards), overlay=overlay, opacity=opacity, colormap=colormap, scale_max=scale_max)
