"""The Filter gallery's class objective: one image per chosen class, rendered in one batch, with its downloads."""

from __future__ import annotations

import io
from dataclasses import asdict

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.layout import json_download
from ui.live_run import StoppedRun, live_run
from vizcore import filters, images, viz
from vizcore.errors import VizcoreError


def show_class_gallery(selection, classes: list[int], settings: filters.FilterSettings, preview_every: int,
                       columns: int, tile_width: int) -> None:
    """Run (with live preview and Stop) and show the class images for ``classes``; errors are one sentence."""
    model = selection.model
    if not classes:
        st.error("Choose at least one class.")
        return
    try:
        settings.check()
    except VizcoreError as error:
        st.error(str(error))
        return
    request = (selection.model_name, "class", tuple(classes), settings)
    gallery = live_run(
        "filters", request, f"Render {len(classes)} class images",
        lambda on_progress: filters.visualise_classes(model, classes, settings, preview_every=preview_every,
                                                      on_progress=on_progress),
        lambda update: None if update.images is None else viz.image_grid(filters.to_uint8(update.images), columns),
    )
    if gallery is None:
        return
    names = [model.class_names[index] for index in classes]
    parameters = {"model": selection.model_name, "objective": "class", "classes": classes, "class_labels": names,
                  "parameters": asdict(settings)}
    if isinstance(gallery, StoppedRun):
        st.image(gallery.preview, caption=f"Classes {', '.join(names)}, stopped at step {gallery.step}")
        png_column, json_column, _ = st.columns([1, 1, 3])
        png_column.download_button("Preview PNG", images.encode_png(gallery.preview), f"classes_step{gallery.step}.png",
                                   "image/png", key="filters_preview_png")
        with json_column:
            json_download("Parameters JSON", {**parameters, "stopped_at_step": gallery.step},
                          f"classes_step{gallery.step}.json", key="filters_preview_json")
        return
    st.image(list(gallery.images), width=tile_width, caption=[
        f"{label} · seen as {seen} ({probability:.0%})"
        for label, (_, seen, probability) in zip(gallery.class_labels, gallery.predicted)
    ])
    count = f"{len(classes)} image{'' if len(classes) == 1 else 's'}"
    st.caption(f"Classes {', '.join(names)} ({count}, {gallery.steps_done} steps, {gallery.seconds:.1f} s); "
               "under each image, the class the model sees in it as a photo")
    labels = [f"{label} ({index})" for label, index in zip(gallery.class_labels, gallery.channels)]
    figure = go.Figure([
        go.Bar(name="start (grey noise)", x=labels, y=gallery.initial_activation, marker_color="#bbbbbb"),
        go.Bar(name="its synthesised image", x=labels, y=gallery.final_activation, marker_color="#1f77b4"),
    ])
    figure.update_layout(barmode="group", xaxis_title="class", xaxis_type="category", yaxis_title="class logit",
                         height=280, margin=dict(l=10, r=10, t=10, b=40), legend=dict(orientation="h", y=1.12))
    st.plotly_chart(figure, key="filters_activation_chart")
    array_buffer = io.BytesIO()
    np.save(array_buffer, gallery.images)
    png_column, npy_column, json_column, _ = st.columns([1, 1, 1, 2])
    png_column.download_button("Grid PNG", images.encode_png(viz.image_grid(gallery.images, columns)), "classes.png",
                               "image/png", key="filters_png")
    npy_column.download_button("Images NPY", array_buffer.getvalue(), "classes.npy", "application/octet-stream",
                               key="filters_npy")
    with json_column:
        json_download("Parameters JSON", {**parameters, **gallery.summary()}, "classes.json", key="filters_json")
