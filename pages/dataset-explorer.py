"""Dataset explorer: a whole folder of images through the model once (an index), and what it tells."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import streamlit as st  # noqa: E402  (after run_through_app)

from ui import dataset_view  # noqa: E402
from ui.layout import page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import cached  # noqa: E402
from vizcore.errors import VizcoreError  # noqa: E402

page_intro(
    "Dataset explorer",
    "A folder of images goes through the model once, and the index that leaves shows how the model sorts the whole set: "
    "its predictions per label, a map of its features, the images nearest to yours and the patches each channel likes best.",
    "Start with the demo set (crops of the bundled photos), or index your own folder or zip; an index is kept, so "
    "coming back opens it at once.",
)

selection = current_selection()
try:
    index = dataset_view.index_section(selection)
except VizcoreError as error:
    st.error(str(error))
    stop_page()
if index is None:
    stop_page()

rows = cached.index_rows(index.folder, index.built)
dataset_view.index_summary(index, rows)

st.subheader("Labels and predictions")
dataset_view.labels_view(selection, index, rows)

if selection.compare_name:
    st.subheader("Where the two models disagree")
    dataset_view.disagreements_view(selection, index)

st.subheader("Embedding map")
dataset_view.map_view(selection, index, rows)

st.subheader("Nearest neighbours of the sidebar image")
dataset_view.neighbours_view(selection, index, rows)

st.subheader("Max-activating patches")
dataset_view.patches_view(index)
