"""vizcore dashboard: the shared sidebar (model, image, device) and navigation over pages/."""

import streamlit as st

st.set_page_config(page_title="vizcore", page_icon=":material/visibility:", layout="wide")

# Each page's URL path is its file's stem (pages/grad-cam.py is /grad-cam), inferred by st.Page and
# never set here: Streamlit's legacy pages-folder runner, which serves a process's first run, finds
# pages by stem too, so both agree on every URL (ui/navigation.py explains the rest).
PAGES = [
    st.Page("pages/predictions.py", title="Predictions", icon=":material/label:", default=True),
    st.Page("pages/activation-explorer.py", title="Activation explorer", icon=":material/grid_view:"),
    st.Page("pages/filter-gallery.py", title="Filter gallery", icon=":material/palette:"),
    st.Page("pages/occlusion-and-saliency.py", title="Occlusion & saliency", icon=":material/visibility_off:"),
    st.Page("pages/grad-cam.py", title="Grad-CAM", icon=":material/local_fire_department:"),
    st.Page("pages/deep-dream.py", title="DeepDream", icon=":material/cyclone:"),
    st.Page("pages/style-transfer.py", title="Style transfer", icon=":material/brush:"),
]
# Before the imports below, which load TensorFlow (seconds, on a process's first run): until this
# call, the browser keeps showing the navigation it last received.
navigation = st.navigation(PAGES)

from vizcore.log_lines import TENSORFLOW_IMPORT_LINES, without_lines  # noqa: E402

with without_lines(*TENSORFLOW_IMPORT_LINES):  # TensorFlow loads here: its build notices stay out of the log
    from ui.navigation import page_run, remember_page_settings
    from ui.sidebar import render_sidebar

remember_page_settings()
render_sidebar()
with page_run():
    navigation.run()
