"""Feature inversion: the sidebar image rebuilt from one layer's features at a time, shallow to deep, side by side."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import io  # noqa: E402  (after run_through_app)
from dataclasses import asdict  # noqa: E402

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from ui.layout import json_download, page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.live_run import StoppedRun, live_run  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import images, inversion, viz  # noqa: E402
from vizcore.models.layers import feature_map_layers  # noqa: E402

PREVIEW_EVERY = 10
TILE_WIDTH = 140  # CSS px per picture: the original and six reconstructions in one row of a wide page
SIZES = (64, 96, 128, 160, 192, 256, 320, 384)

page_intro(
    "Feature inversion",
    "Each picture is grown from grey noise until one layer's features match those of the sidebar image, so it shows what that layer still knows of the image.",
    "Shallow layers keep nearly every pixel; deeper ones keep the parts and layout that matter for the class and let exact colours and positions go.",
)

selection = current_selection()
model = selection.model
layer_names = [info.name for info in feature_map_layers(model)]  # in graph order: shallow to deep
chosen = st.multiselect(
    "Layers to invert (preset chosen)", layer_names,
    default=[name for name in inversion.default_layers(model) if name in layer_names],
    key=f"inversion_layers_{selection.model_name}", max_selections=inversion.MAX_LAYERS,
)
size_column, steps_column, tv_column, seed_column = st.columns(4)
size = size_column.select_slider("Image size (px)", SIZES, inversion.InversionSettings.size, key="inversion_size",
                                 help="The image is centre-cropped to a square, as the model sees it.")
steps = steps_column.slider("Steps", 10, 1000, inversion.InversionSettings.steps, 10, key="inversion_steps")
tv_weight = tv_column.slider("Smoothness (TV)", 0.0, 2.0, inversion.InversionSettings.tv_weight, 0.05,
                             key="inversion_tv", help="The total-variation prior: higher gives smoother reconstructions.")
seed = seed_column.number_input("Seed", 0, 2**31 - 1, 0, key="inversion_seed")
settings = inversion.InversionSettings(size=int(size), steps=int(steps), tv_weight=float(tv_weight), seed=int(seed))
if not chosen:
    st.error("Choose at least one layer to invert.")
    stop_page()
layers = tuple(sorted(chosen, key=layer_names.index))

request = (selection.model_name, selection.image_key, layers, settings)
result = live_run(
    "inversion", request, f"Invert {len(layers)} layers ({settings.steps} steps)",
    lambda on_progress: inversion.invert_features(model, selection.pixels, layers, settings,
                                                  preview_every=PREVIEW_EVERY, on_progress=on_progress),
    lambda update: None if update.images is None else viz.side_by_side(list(inversion.to_uint8(update.images))),
    caption_of=lambda update: f"Live preview, step {update.step}: {', '.join(layers)}",
)
if result is None:
    stop_page()
parameters = selection.parameters(layers=list(layers), **asdict(settings))
if isinstance(result, StoppedRun):
    picture, record = result.preview, {"parameters": parameters, "stopped_at_step": result.step}
    st.image(picture, caption=f"Stopped at step {result.step}: {', '.join(layers)}")
    array = None
else:
    picture, array = viz.side_by_side([result.original, *result.images]), result.images
    record = {"parameters": parameters, **result.summary()}
    st.image(
        [result.original, *result.images],
        caption=["The image, as inverted"] + [
            f"From {layer}: correlation {correlation:+.2f}"
            for layer, correlation in zip(result.layers, result.correlation)
        ],
        width=TILE_WIDTH,
    )
    st.caption(f"{result.steps_done} steps in {result.seconds:.1f} s. Correlation: of each picture's pixels with the "
               "image's (1 is a perfect copy). Feature distance: how far its features on its layer still are from the "
               "image's (1.0 is as far as all zeros).")
    st.dataframe(
        [{"layer": row["layer"], "correlation": round(row["correlation"], 3),
          "feature distance": round(row["feature_distance"], 4),
          "start's feature distance": round(row["initial_feature_distance"], 4)} for row in result.summary()["layers"]],
        hide_index=True,
    )
png_column, npy_column, json_column, _ = st.columns([1, 1, 1, 2])
png_column.download_button("Reconstructions PNG", images.encode_png(picture), "inversion.png", "image/png",
                           key="inversion_png")
if array is not None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    npy_column.download_button("Images NPY", buffer.getvalue(), "inversion.npy", "application/octet-stream",
                               key="inversion_npy")
with json_column:
    json_download("Parameters JSON", record, "inversion.json", key="inversion_json")
