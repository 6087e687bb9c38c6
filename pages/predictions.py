"""Predictions: the model's top classes for the sidebar image."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import plotly.graph_objects as go  # noqa: E402  (after run_through_app)
import streamlit as st  # noqa: E402

from ui.layout import json_download, page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.model_comparison import compare_predictions  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import cached, images  # noqa: E402
from vizcore.errors import VizcoreError  # noqa: E402
from vizcore.predictions import predictions_csv, predictions_record  # noqa: E402

page_intro(
    "Predictions",
    "These are the classes the model thinks are most likely in the image, with the probability it gives each.",
    "Long bars mean confidence; several short bars of similar length mean the model is unsure between them.",
)

selection = current_selection()
top_k = st.slider("How many classes", min_value=1, max_value=20, value=5, key="predictions_top_k")

try:
    predictions, seconds = cached.top_predictions(selection.model_name, selection.image_key, selection.pixels, top_k)
except VizcoreError as error:
    st.error(str(error))
    stop_page()

chart_column, image_column = st.columns([3, 2])
with chart_column:
    figure = go.Figure(
        go.Bar(
            x=[p.probability for p in predictions],
            y=[f"{p.label} ({p.index})" for p in predictions],
            orientation="h",
            text=[f"{p.probability:.1%}" for p in predictions],
            # Outside the bar and level: inside a thin bar Plotly turns the text sideways to fit it.
            textposition="outside",
            textangle=0,
            cliponaxis=False,  # a bar near 100% keeps its label, drawn in the right margin
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis=dict(title="probability", range=[0, 1], tickformat=".0%"),
        yaxis=dict(autorange="reversed"),
        height=max(240, 42 * len(predictions) + 80),
        margin=dict(l=10, r=60, t=10, b=40),
    )
    st.plotly_chart(figure, key="predictions_chart", config={"displayModeBar": False})
    st.caption(f"Model time: {seconds * 1000:.0f} ms on {cached.cached_device_summary()}.")
with image_column:
    size = selection.model.spec.input_size
    st.image(
        images.fit_to_model(selection.pixels, size),
        caption=f"What the model sees: resized and centre-cropped to {size}×{size}",
    )

parameters = selection.parameters(top_k=top_k)
csv_column, json_column, _ = st.columns([1, 1, 3])
with csv_column:
    st.download_button(
        "Download CSV",
        predictions_csv(predictions, parameters),
        file_name="predictions.csv",
        mime="text/csv",
        key="predictions_csv",
    )
with json_column:
    json_download("Download JSON", predictions_record(predictions, parameters), "predictions.json", key="predictions_json")

if selection.compare_name:  # the sidebar's "Compare with…"
    compare_predictions(selection, top_k)
