"""The attribution pages' "Report" download: the maps a page shows, as one self-contained HTML file (vizcore/report.py).

A page passes the maps it has computed (with the request each was computed for); the file is
built only when the button is pressed (a deferred download, on Streamlit's download thread, so
nothing here may call Streamlit), from those maps and their faithfulness curves: the same
numbers ``vizcore rerun`` recomputes.
"""

from __future__ import annotations

import re

from ui.sidebar import Selection
from vizcore import models, report

REPORT_HELP = (
    "One HTML file that opens offline: the top classes, these maps with their faithfulness, and the provenance "
    "(model digest, versions, every option and seed, the image itself) that `vizcore rerun report.html` recomputes "
    "and checks."
)


def report_entry(method: str, result, curves, layer: str | None = None, **options) -> report.ReportEntry:
    """A computed map for the report: ``options`` as the map was computed with (defaults need not be given)."""
    return report.ReportEntry(report.MapRequest.of(method, layer or result.layer, **options), result, curves)


def report_button(container, selection: Selection, entries: list[report.ReportEntry], key: str) -> None:
    """A "Report" download in ``container`` for ``entries`` (one class; the first entry's class leads the report)."""
    if not entries:
        return
    loaded, pixels, image_name = selection.model, selection.pixels, selection.image_name
    # An uploaded model is named by its file: rerun needs that file again (--model-file).
    model_file = loaded.spec.display_name if models.is_user_model(selection.model_name) else None
    entries = list(entries)

    def build() -> str:
        return report.report_html(loaded, pixels, entries, image_name=image_name, model_file=model_file)

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", image_name.removeprefix("sample:"))[:60] or "image"
    container.download_button("Report", build, f"vizcore_report_{stem}.html", "text/html", key=key, help=REPORT_HELP,
                              icon=":material/description:")
