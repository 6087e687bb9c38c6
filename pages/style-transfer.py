"""Style transfer: the sidebar image repainted with the textures and colours of one or more style images."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import json  # noqa: E402  (after run_through_app)

import streamlit as st  # noqa: E402

from ui.fast_style_view import FAST, METHODS, remember_painting, show_fast_style  # noqa: E402
from ui.animation_view import RunAnimation  # noqa: E402
from ui.layout import page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.live_run import StoppedRun, live_run  # noqa: E402
from ui.sidebar import UPLOAD_TYPES, current_selection  # noqa: E402
from vizcore import cached, images, style  # noqa: E402
from vizcore.errors import VizcoreError  # noqa: E402

page_intro(
    "Style transfer",
    "The sidebar image keeps its content while its textures and colours are pulled towards those of the style images.",
    "Raise the style strength for a bolder painting, lower it to keep more of the photo; several styles blend by their weights.",
)

selection = current_selection()
method = st.radio("Method", METHODS, horizontal=True, key="style_method",
                  help="Fast runs a network trained for style transfer once: for any style image, or in one of "
                       "26 built-in styles. Optimisation repaints the image step by step against the style image.")
if method == FAST:
    show_fast_style(selection)
    stop_page()
model = selection.model
sample_column, upload_column = st.columns([2, 3])
sample_styles = sample_column.multiselect(
    "Style samples", images.SAMPLE_NAMES, default=["immunohistochemistry"], key="style_samples",
    max_selections=style.MAX_STYLES,
)
uploads = upload_column.file_uploader("Style images (upload)", type=UPLOAD_TYPES, accept_multiple_files=True,
                                      key="style_uploads")
chosen = []  # (pixels, name shown, content key) per style image
for name in sample_styles:
    prepared = cached.sample_image(name)
    chosen.append((prepared.pixels, f"sample:{name}", prepared.key))
for upload in uploads or []:
    try:
        prepared = cached.uploaded_image(upload.getvalue())
    except VizcoreError as error:
        st.error(f"{upload.name}: {error}")
        continue
    chosen.append((prepared.pixels, upload.name, prepared.key))
styles = [pixels for pixels, _, _ in chosen]
names = [name for _, name, _ in chosen]
keys = [key for _, _, key in chosen]
if not styles:
    st.info("Choose a style sample or upload a style image.")
    stop_page()
if len(styles) > style.MAX_STYLES:
    st.error(f"Use at most {style.MAX_STYLES} style images at once.")
    stop_page()
# Each chosen style: what it looks like, and its weight in the blend. As many columns as styles may be
# chosen, so that a thumbnail stays small and its name fits on its line.
weights = []
for column, pixels, name, key in zip(st.columns(style.MAX_STYLES), styles, names, keys):
    column.image(pixels, caption=name, width="stretch")
    weights.append(column.number_input("Weight in the blend", 0.0, 10.0, 1.0, 0.25, key=f"style_weight_{key}"))
strength_column, size_column, steps_column, tv_column, start_column, seed_column = st.columns(6)
strength = strength_column.slider("Style strength", 0.5, 50.0, 5.0, 0.5, key="style_strength")
size = size_column.select_slider("Output size (px)", (128, 192, 256, 384, 512, 768), 256, key="style_size")
steps = steps_column.slider("Steps", 10, style.MAX_STEPS, 200, 10, key="style_steps")
tv_weight = tv_column.slider("Smoothness (TV)", 0.0, 20.0, 2.0, 0.5, key="style_tv")
start = start_column.radio("Start from", style.STARTS, key="style_start")
seed = seed_column.number_input("Seed", 0, 2**31 - 1, 0, key="style_seed")
settings = style.StyleSettings(size=int(size), steps=int(steps), style_strength=float(strength), tv_weight=float(tv_weight),
                               start=start, seed=int(seed))
if sum(weights) <= 0:
    st.error("Give at least one style image a weight above 0.")
    stop_page()

request = (selection.model_name, selection.image_key, tuple(keys), tuple(weights), settings)
movie = RunAnimation("style", request)
result = live_run(
    "style", request, f"Paint ({settings.steps} steps)",
    lambda on_progress: movie.keep(style.transfer_style(
        model, selection.pixels, styles, weights, settings, preview_every=10,
        on_progress=movie.recording(on_progress, lambda update: None if update.images is None
                                    else style.to_uint8(update.images[0])))),
    lambda update: None if update.images is None else style.to_uint8(update.images[0]),
)
if result is None:
    stop_page()
parameters = selection.parameters(styles=names, style_weights=weights, **settings.__dict__)
if isinstance(result, StoppedRun):
    picture, record = result.preview, {"parameters": parameters, "stopped_at_step": result.step}
    st.image(picture, caption=f"Stopped at step {result.step}")
else:
    picture, record = result.image, {"parameters": parameters, **result.summary()}
    content_column, result_column = st.columns(2)  # the styles are shown above, with their weights
    content_column.image(selection.pixels, caption="Content", width="stretch")
    result_column.image(picture, caption=f"Styled: {result.steps_done} steps in {result.seconds:.1f} s", width="stretch")
    remember_painting(selection, picture, f"Optimisation: {result.steps_done} steps in {result.seconds:.1f} s "
                                          f"({settings.size} px)")
    st.caption(f"Final distances (scale-free): content {result.content_loss:.3f} · style {result.style_loss:.3f} · "
               f"total variation {result.tv_loss:.3f}")
png_column, json_column, gif_column, mp4_column, _ = st.columns([1, 1, 1, 1, 1])
png_column.download_button("Styled PNG", images.encode_png(picture), "styled.png", "image/png", key="style_png")
json_column.download_button("Parameters JSON", json.dumps(record, indent=2), "styled.json", "application/json",
                            key="style_json")
movie.downloads(gif_column, mp4_column, "styled")
