"""vizcore dashboard: the shared sidebar (model, image, device) and navigation over pages/."""

import streamlit as st

from ui.gate import show_login, unlocked

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
    st.Page("pages/feature-inversion.py", title="Feature inversion", icon=":material/layers:"),
    st.Page("pages/texture-synthesis.py", title="Texture synthesis", icon=":material/texture:"),
    st.Page("pages/adversarial-examples.py", title="Adversarial examples", icon=":material/bug_report:"),
    st.Page("pages/dataset-explorer.py", title="Dataset explorer", icon=":material/photo_library:"),
]
# Before the imports below, which load TensorFlow (seconds, on a process's first run): until this
# call, the browser keeps showing the navigation it last received.
# A hosted server's gate (ui/gate.py): while locked, the navigation is hidden (the URL still picks
# the page, so a link survives the prompt) and only the prompt is drawn.
is_unlocked = unlocked()
navigation = st.navigation(PAGES, position="sidebar" if is_unlocked else "hidden")
if not is_unlocked:
    show_login()  # stops the run

from vizcore.log_lines import TENSORFLOW_IMPORT_LINES, without_lines  # noqa: E402

with without_lines(*TENSORFLOW_IMPORT_LINES):  # TensorFlow loads here: its build notices stay out of the log
    from ui.links import linked_page, open_link
    from ui.navigation import page_run, remember_page_settings
    from ui.sidebar import render_sidebar

remember_page_settings()
open_link()  # a session's first run: the settings of the link it was opened with
selection = render_sidebar()
with page_run(), linked_page(navigation.url_path, selection):  # the page's settings travel in the URL
    navigation.run()
