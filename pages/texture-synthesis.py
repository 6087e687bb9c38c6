"""Texture synthesis: a new texture of any size in the look of a texture image, grown from noise."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

from dataclasses import asdict  # noqa: E402  (after run_through_app)

import streamlit as st  # noqa: E402

from ui.layout import json_download, page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.live_run import StoppedRun, live_run  # noqa: E402
from ui.sidebar import UPLOAD_TYPES, current_selection  # noqa: E402
from vizcore import cached, images, texture  # noqa: E402
from vizcore.errors import VizcoreError  # noqa: E402

PREVIEW_EVERY = 10
SIDEBAR_IMAGE = "The sidebar image"
SIZES = (64, 128, 192, 256, 384, 512, 768)
SOURCE_SIZES = (128, 192, 256, 384, 512)

page_intro(
    "Texture synthesis",
    "A new image is grown from grey noise until its textures (which features fire together, anywhere in the image) match those of the texture image.",
    "It keeps the texture's look but not its layout, and can be any size; a larger texture image size gives larger patterns.",
)

selection = current_selection()
model = selection.model
source_column, upload_column = st.columns([2, 3])
source_name = source_column.selectbox("Texture image", [SIDEBAR_IMAGE, *images.SAMPLE_NAMES], index=0,
                                      key="texture_source")
upload = upload_column.file_uploader("Or upload a texture", type=UPLOAD_TYPES, key="texture_uploads")
if upload is not None:
    try:
        prepared = cached.uploaded_image(upload.getvalue())
    except VizcoreError as error:
        st.error(f"{upload.name}: {error}")
        stop_page()
    source, source_label, source_key = prepared.pixels, upload.name, prepared.key
elif source_name == SIDEBAR_IMAGE:
    source, source_label, source_key = selection.pixels, selection.image_name, selection.image_key
else:
    prepared = cached.sample_image(source_name)
    source, source_label, source_key = prepared.pixels, f"sample:{source_name}", prepared.key

size_column, source_size_column, steps_column, seed_column = st.columns(4)
size = size_column.select_slider("New texture size (px)", SIZES, texture.TextureSettings.size, key="texture_size")
source_size = source_size_column.select_slider(
    "Texture image read at (px)", SOURCE_SIZES, texture.TextureSettings.source_size, key="texture_source_size",
    help="The texture image's longer side as the model reads it: its patterns keep this scale in the new texture.",
)
steps = steps_column.slider("Steps", 10, 1000, texture.TextureSettings.steps, 10, key="texture_steps")
seed = seed_column.number_input("Seed", 0, 2**31 - 1, 0, key="texture_seed")
settings = texture.TextureSettings(size=int(size), source_size=int(source_size), steps=int(steps), seed=int(seed))

request = (selection.model_name, source_key, settings)
result = live_run(
    "texture", request, f"Synthesise ({settings.steps} steps)",
    lambda on_progress: texture.synthesise_texture(model, source, settings, preview_every=PREVIEW_EVERY,
                                                   on_progress=on_progress),
    lambda update: None if update.images is None else texture.to_uint8(update.images[0]),
)
if result is None:
    st.image(source, caption=f"Texture image: {source_label}", width=320)
    stop_page()
parameters = {"model": selection.model_name, "texture_image": source_label, "texture_image_sha1": source_key,
              **asdict(settings)}
if isinstance(result, StoppedRun):
    picture, record = result.preview, {"parameters": parameters, "stopped_at_step": result.step}
    st.image(picture, caption=f"Stopped at step {result.step}")
else:
    picture, record = result.image, {"parameters": parameters, **result.summary()}
    source_shown, result_shown = st.columns(2)
    source_shown.image(source, caption=f"Texture image: {source_label}", width="stretch")
    result_shown.image(picture, caption=f"New texture: {size} px, {result.steps_done} steps in {result.seconds:.1f} s",
                       width="stretch")
    st.caption(f"Gram distance from the texture image's, averaged over {len(result.layers)} layers "
               f"(1.0 is as far as all zeros): {result.initial_gram_distance:.3f} at the start, "
               f"{result.gram_distance:.3f} now.")
png_column, json_column, _ = st.columns([1, 1, 3])
png_column.download_button("Texture PNG", images.encode_png(picture), "texture.png", "image/png", key="texture_png")
with json_column:
    json_download("Parameters JSON", record, "texture.json", key="texture_json")
