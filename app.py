"""vizcore dashboard: the shared sidebar (model, image, device) and navigation over pages/."""

import streamlit as st

st.set_page_config(page_title="vizcore", page_icon=":material/visibility:", layout="wide")

from pages.common import remember_page_settings, render_sidebar  # noqa: E402  (set_page_config must come first)

# Each url_path differs from its file's stem on purpose. With a pages/ folder beside the entrypoint,
# Streamlit's first run in a process (and every AppTest run) goes through the legacy pages-folder
# runner, which would match a stem-named page directly and skip this script, and so the sidebar.
PAGES = [
    st.Page("pages/predictions.py", title="Predictions", icon=":material/label:", url_path="top-classes", default=True),
    st.Page("pages/activations.py", title="Activation explorer", icon=":material/grid_view:", url_path="activation-explorer"),
    st.Page("pages/filters.py", title="Filter gallery", icon=":material/palette:", url_path="filter-gallery"),
    st.Page("pages/occlusion_saliency.py", title="Occlusion & saliency", icon=":material/visibility_off:", url_path="occlusion-and-saliency"),
    st.Page("pages/gradcam.py", title="Grad-CAM", icon=":material/local_fire_department:", url_path="grad-cam"),
    st.Page("pages/deepdream.py", title="DeepDream", icon=":material/cyclone:", url_path="deep-dream"),
    st.Page("pages/style_transfer.py", title="Style transfer", icon=":material/brush:", url_path="style-transfer"),
]

navigation = st.navigation(PAGES)
remember_page_settings()
render_sidebar()
navigation.run()
