"""What keeps the multipage app whole: page settings survive page switches, and every page runs through app.py.

Why ``run_through_app`` exists: Streamlit (checked on 1.67) runs the first script run of a server
process through its legacy pages-folder runner whenever a ``pages/`` folder sits beside the
entrypoint (``PagesManager.uses_pages_directory``; ``st.navigation`` turns it off for the rest of
the process, and AppTest turns it back on before every run). That runner lists every
``pages/*.py`` by file name in the sidebar and, for a URL such as ``/grad-cam``, runs the file
whose stem is ``grad-cam`` on its own: without app.py, so without the shared sidebar and the real
navigation. A URL that names no file gets Streamlit's "Page not found" notice and app.py.

So page files are named after their URL paths (app.py lets st.Page infer ``url_path`` from the
file name), which makes the legacy runner find the requested page, and every page calls
``run_through_app()`` first: run by the legacy runner (not inside app.py's ``page_run()``), it runs app.py in its place, within the
same script run (as the legacy runner itself does for the root URL). app.py's ``st.navigation``
turns the legacy runner off, sends the real navigation and runs this same page, now under the
sidebar; then the outer run of the page stops. The same run, not a rerun, so whatever started it
(a button click, in AppTest) still holds. Called before the page's own imports, and with app.py
calling ``st.navigation`` before its own, the legacy file list shows for a blink, not for the
seconds a cold TensorFlow import takes.
"""

from __future__ import annotations

import contextlib
import runpy
import threading

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

# Set while app.py runs the chosen page. Per thread: each session's script runs in a thread of its
# own, while Streamlit's legacy-runner flag is one for the whole process and changes under
# concurrent first runs (and under AppTest, which resets it for every run).
_running_through_app = threading.local()

# Page widgets whose values should survive a visit to another page. Streamlit drops a widget's
# state on any run that does not draw it; writing it back each run keeps it. Buttons and
# download buttons cannot be written, so their keys end in one of the excluded suffixes.
# The same keys travel in a page's link (ui/links.py).
REMEMBERED_PREFIXES = ("explorer_", "filters_", "saliency_", "gradcam_", "dream_", "style_", "predictions_", "dataset_",
                       "attack_", "inversion_", "texture_")
NOT_REMEMBERED_SUFFIXES = (
    "_run", "_png", "_npy", "_json", "_csv", "_chart", "_compared", "_partial", "_uploads", "_sanity",
    "_gif", "_mp4", "_report",
)


def is_page_setting(key) -> bool:
    """Whether ``key`` is a page widget's key whose value survives page switches and travels in links."""
    return str(key).startswith(REMEMBERED_PREFIXES) and not str(key).endswith(NOT_REMEMBERED_SUFFIXES)


def remember_page_settings() -> None:
    """Write every page setting back to session state, so that it survives this run (app.py calls it)."""
    for key in list(st.session_state):
        if is_page_setting(key):
            st.session_state[key] = st.session_state[key]


@contextlib.contextmanager
def page_run():
    """app.py runs the chosen page inside this, so the page knows it runs through app.py."""
    _running_through_app.active = True
    try:
        yield
    finally:
        _running_through_app.active = False


def run_through_app() -> None:
    """Call first in every page script: when Streamlit's legacy runner ran the page alone, run app.py instead.

    Through app.py (every run but a server process's first) this does nothing. See the module docstring.
    """
    if getattr(_running_through_app, "active", False):
        return
    runpy.run_path(get_script_run_ctx().main_script_path, run_name="__main__")  # draws this page, under the sidebar
    st.stop()  # the page has been drawn through app.py: not a second time here
