"""A one-file report of why the model decided: predictions, maps with their faithfulness, and provenance to rerun it.

``report_html`` writes one self-contained HTML page: every picture inline as a ``data:`` URI, no
scripts, fonts or links to fetch, so it opens offline and can be mailed. It holds the model's
top classes, each chosen attribution method's map with its deletion and insertion areas
(vizcore/attribution/deletion_insertion.py) and a provenance block, also embedded as JSON
(``<script type="application/json" id="provenance">``, data only, never run): the model's name and
weights digest, the vizcore, TensorFlow, Keras and NumPy versions, every method option (defaults
included) and seed, the input image's SHA-256, and the input image itself (a lossless PNG), so
``rerun`` can recompute everything from the file alone.

``rerun`` recomputes a report and compares (``Rerun.differences``): the model digest and the image
digest exactly, the top classes' indices exactly (so a report of the top-1 class still explains the top-1
class), and each float within a tolerance:

- probabilities and the deletion and insertion areas (all 0..1): within ``SCORE_TOLERANCE`` (1e-3);
- maps: each map area-averaged to a ``MAP_GRID`` x ``MAP_GRID`` grid and divided by its largest
  absolute value (-1..1); every cell within ``MAP_TOLERANCE`` (0.02) of the report's.

On the machine that made it, a rerun reproduces every score exactly and the maps to the 4 decimals
they are stored with; the tolerances are an allowance (not measured) for another CPU, a GPU or
another TensorFlow build. A report given to ``read_provenance`` is untrusted: its size is
capped, only the provenance JSON is read, every field is checked (methods and options against the
method table's ranges) and anything malformed is one sentence.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import json
import math
import re
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Callable

import cv2
import numpy as np

from vizcore import images
from vizcore.attribution.methods import METHODS as METHOD_TABLE
from vizcore.attribution.methods import get_method
from vizcore.errors import VizcoreError

REPORT_FORMAT = "vizcore-report"
REPORT_VERSION = 1
DEFAULT_METHODS = ("gradcam", "saliency")
TOP_K = 5
MAP_GRID = 32  # cells per side of the map summary a rerun compares
SCORE_TOLERANCE = 1e-3
MAP_TOLERANCE = 0.02
TOLERANCES = {
    "probabilities_and_areas": SCORE_TOLERANCE,
    "map_cells": MAP_TOLERANCE,
    "map_grid": MAP_GRID,
    "exact": ["model digest", "image digest", "top class indices"],
}
# The input image is embedded as PNG, so a report may be large; it is read whole, so it is capped.
MAX_REPORT_BYTES = 128 * 2**20
MAX_TOP_K = 100
MAX_CURVE_STEPS = 200
# Seeds fixed in vizcore's code rather than chosen per run, recorded so a reader sees every seed.
FIXED_SEEDS = {
    "faithfulness_tie_order": 0,  # deletion_insertion.faithfulness: ties in a flat map broken by default_rng(0)
    "ig_noise_baseline": 0,  # path_integrals.integrated_gradients: the "noise" baseline's seed
}
MODEL_SOURCES = ("registry", "file")
_PROVENANCE = re.compile(rb'<script type="application/json" id="provenance">(.*?)</script>', re.DOTALL)
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class MapRequest:
    """One method's map as a report asks for it: every option of the method (defaults filled in), the CAM layer."""

    method: str
    layer: str | None = None  # CAM methods only; None: the model's Grad-CAM layer
    options: tuple = ()  # (name, value) pairs, sorted by name

    @classmethod
    def of(cls, method: str, layer: str | None = None, **options) -> "MapRequest":
        """A request with the method table's defaults for the options not given; one sentence for a bad one."""
        row = get_method(method)
        row.check(options)
        chosen = {**row.defaults(), **{name: row.option(name).kind(value) for name, value in options.items()}}
        return cls(method, layer if row.needs_layer else None, tuple(sorted(chosen.items())))

    @property
    def option_values(self) -> dict:
        return dict(self.options)

    def as_dict(self) -> dict:
        return {"method": self.method, "layer": self.layer, "options": self.option_values}


def parse_methods(text: str) -> list[MapRequest]:
    """``"gradcam,smoothgrad:samples=16:seed=2"`` -> requests: methods by CLI name, ``:option=value`` after each."""
    requests = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        name, *settings = part.split(":")
        row = get_method(name.strip())
        options = {}
        for setting in settings:
            option_name, equals, value = setting.partition("=")
            option_name = option_name.strip().replace("-", "_")
            if not equals or option_name not in row.defaults():
                takes = ", ".join(row.defaults()) or "no options"
                raise VizcoreError(f"Could not read {setting!r} for {row.title}: write option=value, with options {takes}.")
            kind = row.option(option_name).kind
            try:
                options[option_name] = kind(value.strip())
            except ValueError:
                raise VizcoreError(f"{row.title} {option_name} must be a {kind.__name__}, not {value.strip()!r}.") from None
        requests.append(MapRequest.of(row.name, **options))
    if not requests:
        raise VizcoreError("Name at least one method for the report, e.g. gradcam,saliency.")
    return requests


@dataclass(frozen=True)
class ReportEntry:
    """One computed map of a report: its request (layer resolved), the map and its faithfulness curves."""

    request: MapRequest
    result: object  # vizcore.attribution.AttributionMap
    curves: object  # vizcore.attribution.FaithfulnessCurves


def compute_entries(
    loaded, pixels: np.ndarray, requests: list[MapRequest], class_index: int | None = None,
    on_progress: Callable[[int, int], None] | None = None, curve_steps: int | None = None,
) -> list[ReportEntry]:
    """Each request's map for ``class_index`` (None: the top-1 class) and its curves; ``on_progress(done, total)``.

    ``curve_steps``: points of the deletion and insertion curves (default: the faithfulness module's).
    """
    from vizcore import attribution

    steps = {} if curve_steps is None else {"steps": curve_steps}
    entries = []
    for done, request in enumerate(requests, start=1):
        result = attribution.explain(loaded, pixels, request.method, class_index, request.layer, **request.option_values)
        class_index = result.class_index
        curves = attribution.faithfulness(loaded, pixels, result.values, result.class_index, **steps)
        entries.append(ReportEntry(replace(request, layer=result.layer), result, curves))
        if on_progress is not None:
            on_progress(done, len(requests))
    return entries


def pixels_digest(pixels: np.ndarray) -> str:
    """SHA-256 of an H x W x 3 uint8 image's shape and bytes: equal digests, equal pixels."""
    digest = hashlib.sha256(f"{pixels.shape}:{pixels.dtype.str}".encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()


def versions() -> dict:
    found = {}
    for package in ("vizcore", "tensorflow", "keras", "numpy", "opencv-python-headless", "pillow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def map_summary(values: np.ndarray) -> np.ndarray:
    """An S x S map area-averaged to MAP_GRID x MAP_GRID and divided by its largest absolute value (-1..1)."""
    small = cv2.resize(np.asarray(values, np.float32), (MAP_GRID, MAP_GRID), interpolation=cv2.INTER_AREA)
    top = float(np.abs(small).max())
    return small / top if top > 0 else small


def provenance(loaded, pixels: np.ndarray, entries: list[ReportEntry], predictions: list, *, image_name: str,
               model_file: str | None = None) -> dict:
    """The report's provenance block: everything ``rerun`` needs, and the numbers it compares."""
    from vizcore.datasets.index import model_digest

    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "model": {
            "name": loaded.spec.name,
            "source": "file" if model_file is not None else "registry",
            "file_name": model_file,
            "preprocessing": loaded.spec.preprocessing.name,
            "input_size": loaded.spec.input_size,
            "digest": model_digest(loaded),
        },
        "image": {
            "name": image_name,
            "height": int(pixels.shape[0]),
            "width": int(pixels.shape[1]),
            "sha256": pixels_digest(pixels),
            "note": "png_base64 is this image, losslessly: rerun recomputes the report from it",
            "png_base64": base64.b64encode(images.encode_png(pixels)).decode("ascii"),
        },
        "class_index": entries[0].result.class_index,
        "top_k": len(predictions),
        "faithfulness": {"curve_steps": len(entries[0].curves.fractions) - 1, "baseline": "blurred"},
        "fixed_seeds": FIXED_SEEDS,
        "methods": [entry.request.as_dict() for entry in entries],
        "results": {
            "predictions": [prediction.as_dict() for prediction in predictions],
            "maps": [
                {
                    "method": entry.result.method,
                    "class_probability": float(entry.result.probability),
                    "deletion_area": float(entry.curves.deletion_area),
                    "insertion_area": float(entry.curves.insertion_area),
                    "details": entry.result.details,
                    "map": np.round(map_summary(entry.result.values), 4).tolist(),
                }
                for entry in entries
            ],
        },
    }


def report_html(loaded, pixels: np.ndarray, entries: list[ReportEntry], *, image_name: str,
                model_file: str | None = None, model_title: str | None = None) -> str:
    """The report for maps already computed (``compute_entries``, or a page's cached maps) as one HTML page.

    ``image_name`` says where the image came from (a file name, ``sample:chelsea``); ``model_file``
    names the model file when the model is not from the registry (rerun then needs it again).
    """
    from vizcore import predictions as predicting

    if not entries:
        raise VizcoreError("A report needs at least one map.")
    top = predicting.top_predictions(loaded, pixels, min(TOP_K, len(loaded.class_names)))
    record = provenance(loaded, pixels, entries, top, image_name=image_name, model_file=model_file)
    return _page(loaded, pixels, entries, top, record, model_title or model_file or loaded.spec.display_name)


def make_report(loaded, pixels: np.ndarray, requests: list[MapRequest], class_index: int | None = None, *,
                image_name: str, model_file: str | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> str:
    """Compute every requested map for ``class_index`` (None: the top-1 class), then the report's HTML."""
    entries = compute_entries(loaded, pixels, requests, class_index, on_progress)
    return report_html(loaded, pixels, entries, image_name=image_name, model_file=model_file)


# ---------------------------------------------------------------- the page


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #59636e; margin-top: 0; }
img { max-width: 100%; image-rendering: auto; }
table { border-collapse: collapse; } td, th { padding: 0.2rem 0.6rem; text-align: left; border-bottom: 1px solid #d1d9e0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.top { display: flex; gap: 2rem; align-items: flex-start; flex-wrap: wrap; }
.maps { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1.5rem; }
.card { border: 1px solid #d1d9e0; border-radius: 6px; padding: 0.8rem; }
.card h3 { margin: 0 0 0.5rem; font-size: 1rem; }
figure { margin: 0; } figcaption, .note { color: #59636e; font-size: 0.85rem; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _png_uri(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(images.encode_png(pixels)).decode("ascii")


def _curves_svg(curves) -> str:
    """Deletion (red) and insertion (green) curves as an inline SVG, 0..1 on both axes."""
    width, height, pad = 300, 130, 6

    def points(values) -> str:
        return " ".join(f"{pad + x * (width - 2 * pad):.1f},{height - pad - y * (height - 2 * pad):.1f}"
                        for x, y in zip(curves.fractions, np.clip(values, 0.0, 1.0)))

    return (
        f'<svg width="{width}" height="{height}" role="img" '
        f'aria-label="deletion and insertion curves">'
        f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" fill="none" stroke="#d1d9e0"/>'
        f'<polyline fill="none" stroke="#d62728" stroke-width="2" points="{points(curves.deletion)}"/>'
        f'<polyline fill="none" stroke="#2ca02c" stroke-width="2" points="{points(curves.insertion)}"/></svg>'
    )


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _map_card(loaded, fitted: np.ndarray, entry: ReportEntry) -> str:
    from vizcore import viz

    result, curves = entry.result, entry.curves
    picture = viz.map_picture(fitted, viz.display_map(result.values, result.method), result.method)
    title = METHOD_TABLE[result.method].title + (f" · {result.layer}" if result.layer else "")
    options = ", ".join(f"{name} {value}" for name, value in entry.request.options) or "no options"
    details = "".join(f"<tr><td>{_e(name)}</td><td class=number>{_e(_number(value))}</td></tr>"
                      for name, value in result.details.items())
    return f"""<article class="card">
<h3>{_e(title)}</h3>
<img src="{_png_uri(picture)}" alt="{_e(title)} map">
<table>
<tr><td>deletion area (lower is more faithful)</td><td class=number>{curves.deletion_area:.4f}</td></tr>
<tr><td>insertion area (higher is more faithful)</td><td class=number>{curves.insertion_area:.4f}</td></tr>
<tr><td>score (insertion − deletion)</td><td class=number>{curves.score:.4f}</td></tr>
{details}
</table>
{_curves_svg(curves)}
<p class="note">Red: class probability as the map's top pixels are blurred away; green: as only they are restored.
Options: {_e(options)}.</p>
</article>"""


def _provenance_script(record: dict) -> str:
    # JSON inside <script> must not contain "</script>" or "<!--": escape <, > and & as JSON \\u escapes.
    text = json.dumps(record, ensure_ascii=True, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="provenance">{text}</script>'


def _page(loaded, pixels, entries, top, record, model_title) -> str:
    from vizcore.attribution import rank_methods

    first = entries[0].result
    fitted = images.fit_to_model(pixels, loaded.spec.input_size)
    size = loaded.spec.input_size
    prediction_rows = "".join(
        f"<tr><td>{rank}</td><td>{_e(p.label)}</td><td class=number>{p.index}</td><td class=number>{p.probability:.2%}</td></tr>"
        for rank, p in enumerate(top, start=1)
    )
    ranking = ""
    if len(entries) > 1:
        ranked = rank_methods({entry.result.method: entry.curves for entry in entries})
        rows = "".join(
            f"<tr><td>{row.rank}</td><td>{_e(METHOD_TABLE[row.method].title)}</td><td class=number>{row.score:.4f}</td>"
            f"<td class=number>{row.deletion_area:.4f}</td><td class=number>{row.insertion_area:.4f}</td></tr>"
            for row in ranked
        )
        ranking = (f"<h2>Faithfulness ranking</h2><table><tr><th>rank</th><th>method</th><th>score</th>"
                   f"<th>deletion area</th><th>insertion area</th></tr>{rows}</table>")
    # What a reader sees: the JSON without its bulk (the image, the map grids), which stays in the script block.
    shown = {
        **record,
        "image": {key: value for key, value in record["image"].items() if key != "png_base64"},
        "results": {**record["results"], "maps": [{key: value for key, value in row.items() if key != "map"}
                                                  for row in record["results"]["maps"]]},
    }
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vizcore report · {_e(record["image"]["name"])} · {_e(model_title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>vizcore report</h1>
<p class="subtitle">{_e(record["image"]["name"])} · {_e(model_title)} · explaining <b>{_e(first.label)}</b>
(class {first.class_index}), probability {first.probability:.2%}</p>
<section class="top">
<figure><img src="{_png_uri(fitted)}" alt="the image as the model sees it" width="{size}" height="{size}">
<figcaption>The image as the model sees it ({size} × {size}), from {record["image"]["width"]} × {record["image"]["height"]}</figcaption></figure>
<div><h2>Predictions</h2><table><tr><th>#</th><th>class</th><th>index</th><th>probability</th></tr>{prediction_rows}</table></div>
</section>
<h2>Maps</h2>
<div class="maps">
{"".join(_map_card(loaded, fitted, entry) for entry in entries)}
</div>
{ranking}
<h2>Provenance</h2>
<p class="note">Everything that produced this report. The input image is embedded in this file (losslessly, in the
provenance JSON) so that <code>vizcore rerun report.html</code> can recompute every number and say whether they match.</p>
<pre>{_e(json.dumps(shown, indent=2))}</pre>
{_provenance_script(record)}
</body>
</html>
"""


# ---------------------------------------------------------------- rerun


def _bad(reason: str) -> VizcoreError:
    return VizcoreError(f"This is not a vizcore report that can be rerun: {reason}.")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def read_provenance(data: bytes) -> dict:
    """The checked provenance of a report's bytes (untrusted): one sentence for anything malformed."""
    if len(data) > MAX_REPORT_BYTES:
        raise _bad(f"the file is larger than {MAX_REPORT_BYTES // 2**20} MB")
    blocks = _PROVENANCE.findall(data)
    if len(blocks) != 1:
        raise _bad("it has no provenance block" if not blocks else "it has more than one provenance block")
    try:
        record = json.loads(blocks[0].decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("its provenance block is not valid JSON") from None
    _check_record(record)
    return record


def _get(container: dict, key: str, kinds, where: str):
    if not isinstance(container, dict) or key not in container:
        raise _bad(f"{where} has no {key!r}")
    value = container[key]
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise _bad(f"{where}'s {key!r} has the wrong type")
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(f"{where}'s {key!r} is not a finite number")
    return value


def _check_record(record) -> None:
    if not isinstance(record, dict) or record.get("format") != REPORT_FORMAT:
        raise _bad("its provenance is not a vizcore report's")
    if record.get("version") != REPORT_VERSION:
        raise _bad(f"it is of version {str(record.get('version'))[:20]}, and this vizcore reads version {REPORT_VERSION}")
    model = _get(record, "model", dict, "the report")
    _get(model, "name", str, "the model")
    if _get(model, "source", str, "the model") not in MODEL_SOURCES:
        raise _bad("the model's source is neither registry nor file")
    if not _HEX64.fullmatch(_get(model, "digest", str, "the model")):
        raise _bad("the model's digest is not a SHA-256")
    _get(model, "preprocessing", str, "the model")
    image = _get(record, "image", dict, "the report")
    if not _HEX64.fullmatch(_get(image, "sha256", str, "the image")):
        raise _bad("the image's digest is not a SHA-256")
    _get(image, "png_base64", str, "the image")
    _get(image, "name", str, "the image")
    if _get(record, "class_index", int, "the report") < 0:
        raise _bad("the class index is negative")
    if not 1 <= _get(record, "top_k", int, "the report") <= MAX_TOP_K:
        raise _bad(f"top_k is not between 1 and {MAX_TOP_K}")
    steps = _get(_get(record, "faithfulness", dict, "the report"), "curve_steps", int, "the faithfulness block")
    if not 2 <= steps <= MAX_CURVE_STEPS:
        raise _bad(f"the curve steps are not between 2 and {MAX_CURVE_STEPS}")
    methods = _get(record, "methods", list, "the report")
    if not 1 <= len(methods) <= len(METHOD_TABLE):
        raise _bad(f"it lists {len(methods)} methods, not 1 to {len(METHOD_TABLE)}")
    results = _get(record, "results", dict, "the report")
    maps = _get(results, "maps", list, "the results")
    if len(maps) != len(methods):
        raise _bad("it has not one result per method")
    for position, (method, result) in enumerate(zip(methods, maps), start=1):
        where = f"method {position}"
        name = _get(method, "method", str, where)
        if name not in METHOD_TABLE:
            raise _bad(f"{where} is not a method vizcore knows")
        _get(method, "options", dict, where)
        layer = method.get("layer") if isinstance(method, dict) else None
        if layer is not None and not isinstance(layer, str):
            raise _bad(f"{where}'s layer is not a name")
        try:
            MapRequest.of(name, layer, **_get(method, "options", dict, where))
        except (VizcoreError, TypeError, ValueError):
            raise _bad(f"{where}'s options are not {METHOD_TABLE[name].title}'s") from None
        for key in ("class_probability", "deletion_area", "insertion_area"):
            _get(result, key, (int, float), f"result {position}")
        grid = _get(result, "map", list, f"result {position}")
        if len(grid) != MAP_GRID or any(not isinstance(row, list) or len(row) != MAP_GRID or not all(
                isinstance(cell, (int, float)) and not isinstance(cell, bool) for cell in row) for row in grid):
            raise _bad(f"result {position}'s map is not a {MAP_GRID} x {MAP_GRID} grid of numbers")
    for prediction in _get(results, "predictions", list, "the results"):
        _get(prediction, "index", int, "a prediction")
        _get(prediction, "probability", (int, float), "a prediction")


def report_image(record: dict) -> np.ndarray:
    """The input image embedded in a checked report, decoded as any untrusted upload is."""
    try:
        data = base64.b64decode(record["image"]["png_base64"], validate=True)
    except ValueError:
        raise _bad("its embedded image is not base64") from None
    return images.decode_image(data)


@dataclass(frozen=True)
class Rerun:
    """A report recomputed: ``match`` when nothing differs beyond the tolerances; ``notes`` do not count."""

    differences: list  # {"what", "report", "now"[, "tolerance"]}
    notes: list  # sentences: versions that differ, and the like

    @property
    def match(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        return {"match": self.match, "differences": self.differences, "notes": self.notes, "tolerances": TOLERANCES}


def rerun(record: dict, loaded) -> Rerun:
    """Recompute a checked report (``read_provenance``) with ``loaded`` and compare: see the module's docstring."""
    from vizcore import predictions as predicting
    from vizcore.datasets.index import model_digest

    differences, notes = [], []

    def differ(what: str, report, now, tolerance=None) -> None:
        difference = {"what": what, "report": report, "now": now}
        if tolerance is not None:
            difference["tolerance"] = tolerance
        differences.append(difference)

    def close(what: str, report: float, now: float) -> None:
        if not abs(float(report) - float(now)) <= SCORE_TOLERANCE:
            differ(what, report, float(now), SCORE_TOLERANCE)

    for package, version in versions().items():
        recorded = record.get("versions", {}).get(package) if isinstance(record.get("versions"), dict) else None
        if recorded != version:
            notes.append(f"{package} is {version} here; the report was made with {str(recorded)[:40]}.")
    digest = model_digest(loaded)
    if digest != record["model"]["digest"]:
        differ("model digest", record["model"]["digest"], digest)
    pixels = report_image(record)
    if pixels_digest(pixels) != record["image"]["sha256"]:
        differ("image digest", record["image"]["sha256"], pixels_digest(pixels))
    class_index = record["class_index"]
    if class_index >= len(loaded.class_names):
        raise _bad(f"class {class_index} is out of range for a model with {len(loaded.class_names)} classes")
    top = predicting.top_predictions(loaded, pixels, min(record["top_k"], len(loaded.class_names)))
    recorded_top = record["results"]["predictions"]
    if [p["index"] for p in recorded_top] != [p.index for p in top]:
        differ("top class indices", [p["index"] for p in recorded_top], [p.index for p in top])
    for recorded, now in zip(recorded_top, top):
        if recorded["index"] == now.index:
            close(f"probability of class {now.index}", recorded["probability"], now.probability)
    requests = [MapRequest.of(method["method"], method.get("layer"), **method["options"]) for method in record["methods"]]
    entries = compute_entries(loaded, pixels, requests, class_index,
                              curve_steps=record["faithfulness"]["curve_steps"])
    for entry, recorded in zip(entries, record["results"]["maps"]):
        name = entry.request.method
        close(f"{name} class probability", recorded["class_probability"], entry.result.probability)
        close(f"{name} deletion area", recorded["deletion_area"], entry.curves.deletion_area)
        close(f"{name} insertion area", recorded["insertion_area"], entry.curves.insertion_area)
        gap = float(np.max(np.abs(np.asarray(recorded["map"], np.float32) - map_summary(entry.result.values))))
        if not gap <= MAP_TOLERANCE:
            differ(f"{name} map: its largest cell difference from the report's", 0.0, round(gap, 4), MAP_TOLERANCE)
    return Rerun(differences, notes)
