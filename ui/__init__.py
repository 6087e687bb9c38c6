"""The dashboard's shared UI pieces, used by app.py and the page scripts in pages/.

- ``sidebar``: the model and image every page works on (``render_sidebar``, ``current_selection``).
- ``navigation``: what keeps the multipage app whole: page settings that survive page switches,
  and ``run_through_app`` at the top of every page.
- ``layout``: the intro every page opens with, a JSON download button.
- ``live_run``: the Run / Stop / live preview / kept result pattern of long runs.
- ``attribution_view``: class picker and attribution map cards of the two attribution pages.
- ``links``: the view in the URL's query string, restored from a link; "Copy link".
- ``gate``: a hosted server's password prompt or OIDC login, before anything else renders.
- ``model_comparison``: a second model beside the first on Predictions and Grad-CAM.
- ``dataset_view``: the Dataset explorer's index chooser and builder and its four views; the
  channel links from the Activation explorer and the Filter gallery.

Only the UI lives here; every computation is a call into ``vizcore`` (through ``vizcore.cached``).
"""
