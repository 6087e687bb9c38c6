"""The Style transfer page's Fast mode: the sidebar image painted by a pretrained style network in one pass.

Two networks: any style image (Magenta's arbitrary-style networks) or the 26 built-in styles
(Dumoulin et al.'s network). The result shows beside the optimisation-based transfer's last
painting of the same image, each with its time, so a user sees what a network trained for the
job buys (speed) and what it costs (a fixed set of styles, or a looser grip on the style image).
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from ui.sidebar import UPLOAD_TYPES, Selection
from vizcore import cached, fast_style, images
from vizcore.errors import VizcoreError

OPTIMISATION = "Optimisation (any style image)"
FAST = "Fast (one forward pass)"
METHODS = (OPTIMISATION, FAST)
STYLE_IMAGES = "Any style image"
BUILT_IN = "26 built-in styles"
SIZES = (256, 384, 512, 768, 1024)
MAX_CHOSEN = 4
_LAST_PAINTING = "style_last_painting"  # session key: (image key, picture, caption) of the last finished optimisation


def remember_painting(selection: Selection, picture: np.ndarray, caption: str) -> None:
    """Keep the optimisation's finished picture, so Fast mode can show it beside its own with both times."""
    st.session_state[_LAST_PAINTING] = (selection.image_key, picture, caption)


def show_fast_style(selection: Selection) -> None:
    network_column, size_column = st.columns([3, 1])
    network = network_column.radio("Network", (STYLE_IMAGES, BUILT_IN), horizontal=True, key="fast_style_network")
    size = int(size_column.select_slider("Output size (px)", SIZES, fast_style.DEFAULT_SIZE, key="fast_style_size"))
    result = _from_style_images(selection, size) if network == STYLE_IMAGES else _from_built_in(selection, size)
    if result is None:
        return
    height, width = result.image.shape[:2]
    content_column, fast_column, optimised_column = st.columns(3)
    content_column.image(selection.pixels, caption="Content", width="stretch")
    fast_column.image(result.image, caption=f"Fast: one pass in {result.seconds:.2f} s ({width}×{height} px)",
                      width="stretch")
    last = st.session_state.get(_LAST_PAINTING)
    if last is not None and last[0] == selection.image_key:
        optimised_column.image(last[1], caption=last[2], width="stretch")
    else:
        optimised_column.info("Paint this image with the optimisation method to see its result and time here.")
    summary = result.summary()
    record = {**summary, "parameters": selection.parameters(method="fast", network=summary["network"],
                                                            styles=summary["styles"],
                                                            style_weights=summary["style_weights"], size=size)}
    png_column, json_column, _ = st.columns([1, 1, 3])
    png_column.download_button("Styled PNG", images.encode_png(result.image), "fast-styled.png", "image/png",
                               key="fast_style_png")
    json_column.download_button("Parameters JSON", json.dumps(record, indent=2), "fast-styled.json", "application/json",
                                key="fast_style_json")


def _weights(labels: list[str], keys: list[str]) -> list[float] | None:
    """One weight per chosen style, in columns; None (after saying why) when none is above 0."""
    weights = [column.number_input(f"Weight of {label}", 0.0, 10.0, 1.0, 0.25, key=f"fast_style_weight_{key}")
               for column, label, key in zip(st.columns(MAX_CHOSEN), labels, keys)]
    if sum(weights) <= 0:
        st.error("Give at least one style a weight above 0.")
        return None
    return weights


def _from_style_images(selection: Selection, size: int):
    sample_column, upload_column = st.columns([2, 3])
    samples = sample_column.multiselect("Style samples", images.SAMPLE_NAMES, default=["immunohistochemistry"],
                                        key="fast_style_samples", max_selections=MAX_CHOSEN)
    uploads = upload_column.file_uploader("Style images (upload)", type=UPLOAD_TYPES, accept_multiple_files=True,
                                          key="fast_style_uploads")
    chosen = [(cached.sample_image(name), f"sample:{name}") for name in samples]
    for upload in uploads or []:
        try:
            chosen.append((cached.uploaded_image(upload.getvalue()), upload.name))
        except VizcoreError as error:
            st.error(f"{upload.name}: {error}")
    if not chosen:
        st.info("Choose a style sample or upload a style image.")
        return None
    if len(chosen) > MAX_CHOSEN:
        st.error(f"Use at most {MAX_CHOSEN} style images at once.")
        return None
    names, keys = [name for _, name in chosen], [prepared.key for prepared, _ in chosen]
    weights = _weights(names, keys)
    if weights is None:
        return None
    return cached.fast_styled_from_images(selection.image_key, selection.pixels, tuple(keys),
                                          [prepared.pixels for prepared, _ in chosen], tuple(weights), size, tuple(names))


def _from_built_in(selection: Selection, size: int):
    with st.expander("The 26 built-in styles on this image (the network's styles come as numbers, without names)"):
        sheet = cached.fast_style_sheet(selection.image_key, selection.pixels)
        st.image(list(sheet), caption=[f"style {number}" for number in fast_style.STYLE_NUMBERS], width=112)
    chosen = st.multiselect("Built-in styles", fast_style.STYLE_NUMBERS, default=[19], key="fast_styles",
                            max_selections=MAX_CHOSEN, format_func=lambda number: f"style {number}")
    if not chosen:
        st.info("Choose one or more built-in styles.")
        return None
    weights = _weights([f"style {number}" for number in chosen], [str(number) for number in chosen])
    if weights is None:
        return None
    return cached.fast_styled(selection.image_key, selection.pixels, tuple(chosen), tuple(weights), size)
