"""DeepDream: the sidebar image with what chosen layers see in it amplified, over octaves."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import json  # noqa: E402  (after run_through_app)

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from ui.animation_view import RunAnimation  # noqa: E402
from ui.layout import page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.live_run import StoppedRun, live_run  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import activations, animation, dream, images  # noqa: E402

MAX_MEGAPIXELS = dream.MAX_PIXELS / 1e6
PREVIEW_INTERVAL_S = 0.5  # the animation records more steps than the page needs to show

page_intro(
    "DeepDream",
    "The image is changed, step by step, so that the chosen layers respond to it more strongly: whatever they faintly see gets painted in.",
    "Early layers bring out strokes and textures, deeper layers eyes, fur and object parts; octaves work from coarse to fine.",
)

selection = current_selection()
model = selection.model
layer_names = [info.name for info in activations.explorer_layers(model)]
preset = model.spec.presets.dream_layers
chosen = st.multiselect(
    "Layers (preset chosen)", layer_names, default=[name for name in preset if name in layer_names],
    key=f"dream_layers_{selection.model_name}",
)
weight_columns = st.columns(max(len(chosen), 1))
layers = {
    name: column.number_input(f"Weight · {name}", 0.0, 10.0, float(preset.get(name, 1.0)), 0.25, key=f"dream_weight_{name}")
    for name, column in zip(chosen, weight_columns)
}
octave_column, scale_column, steps_column, size_column, smooth_column, seed_column = st.columns(6)
octaves = octave_column.slider("Octaves", 1, dream.MAX_OCTAVES, 4, key="dream_octaves")
octave_scale = scale_column.slider("Octave scale", 1.1, 2.0, 1.3, 0.05, key="dream_scale")
steps = steps_column.slider("Steps per octave", 1, 50, 10, key="dream_steps")
step_size = size_column.slider("Step size", 0.001, 0.03, 0.005, 0.001, format="%.3f", key="dream_step_size")
smoothing = smooth_column.slider("Smoothing (px)", 0.0, 4.0, 1.0, 0.5, key="dream_smoothing",
                                 help="Blurs each step's gradient: less high-frequency noise.")
seed = seed_column.number_input("Seed", 0, 2**31 - 1, 0, key="dream_seed")

settings = dream.DreamSettings(octaves=int(octaves), octave_scale=float(octave_scale), steps_per_octave=int(steps),
                               step_size=float(step_size), smoothing=float(smoothing), seed=int(seed))
height, width = selection.pixels.shape[:2]
if not layers or sum(layers.values()) <= 0:
    st.error("Choose at least one layer with a weight above 0.")
    stop_page()
if height * width > dream.MAX_PIXELS:
    st.error(f"The image has {height * width / 1e6:.1f} megapixels; dreams are capped at {MAX_MEGAPIXELS:.1f}: use a smaller image.")
    stop_page()

request = (selection.model_name, selection.image_key, tuple(sorted(layers.items())), settings)
movie = RunAnimation("dream", request)
result = live_run(
    "dream", request, f"Dream ({settings.total_steps} steps)",
    lambda on_progress: movie.keep(dream.deep_dream(
        model, selection.pixels, layers, settings, preview_every=animation.preview_every(settings.total_steps),
        on_progress=movie.recording(on_progress, lambda update: update.images))),
    lambda update: update.images,
    caption_of=lambda update: (f"Step {update.step} of {settings.total_steps}, octave "
                               f"{-(-update.step // settings.steps_per_octave)} of {settings.octaves}"),
    preview_interval_s=PREVIEW_INTERVAL_S,
)
if result is None:
    stop_page()
picture = result.preview if isinstance(result, StoppedRun) else result.image
parameters = selection.parameters(layers=layers, **settings.__dict__)
if isinstance(result, StoppedRun):
    record = {"parameters": parameters, "stopped_at_step": result.step}
    st.image(picture, caption=f"Stopped at step {result.step}", width="stretch")
else:
    record = {"parameters": parameters, **result.summary()}
    before, after = st.columns(2)
    before.image(selection.pixels, caption="The image", width="stretch")
    after.image(picture, caption=f"The dream: {result.steps_done} steps in {result.seconds:.1f} s", width="stretch")
    st.caption(" · ".join(
        f"{name}: mean activation {result.input_activation[name]:.3f} → {result.dream_activation[name]:.3f}"
        for name in result.layers
    ))
png_column, json_column, gif_column, mp4_column, _ = st.columns([1, 1, 1, 1, 1])
png_column.download_button("Dream PNG", images.encode_png(np.asarray(picture)), "dream.png", "image/png", key="dream_png")
json_column.download_button("Parameters JSON", json.dumps(record, indent=2), "dream.json", "application/json", key="dream_json")
movie.downloads(gif_column, mp4_column, "dream")
