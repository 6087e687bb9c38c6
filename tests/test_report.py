"""The one-file report: self-contained, escaped, and rerun from its provenance (matching, or saying what differs)."""

import base64
import json
import re

import pytest

from test_cli import assert_one_sentence_error, run_cli
from vizcore import images, report
from vizcore.errors import VizcoreError

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)<!--'  # no slash: it is also a file name


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = run_cli("report", "sample:chelsea", "--class", "tiger cat", "--methods", "gradcam,saliency", "--out", path,
                     "--json")
    assert result.returncode == 0, result.stderr
    assert [row["method"] for row in json.loads(result.stdout)["maps"]] == ["gradcam", "saliency"]
    return path


def provenance_of(page: str) -> dict:
    return report.read_provenance(page.encode())


def with_provenance(page: str, record: dict) -> str:
    """The page with its provenance block replaced by ``record`` (as report.py writes it)."""
    return re.sub(r'<script type="application/json" id="provenance">.*?</script>',
                  lambda _: report._provenance_script(record), page, flags=re.DOTALL)


def test_the_report_is_self_contained(report_file):
    page = report_file.read_text()
    assert not re.search(r"https?:", page, re.IGNORECASE)  # nothing to fetch: no links, fonts, scripts or images
    assert not re.search(r"<(link|iframe|object|embed)\b|@import|url\(", page, re.IGNORECASE)
    scripts = re.findall(r"<script\b[^>]*>", page, re.IGNORECASE)
    assert scripts == ['<script type="application/json" id="provenance">']  # data only, never run, no src
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) == 3 and all(source.startswith("data:image/png;base64,") for source in sources)
    assert "tiger cat" in page and "Grad-CAM" in page and "Saliency" in page


def test_the_provenance_has_the_model_versions_options_and_the_image_itself(report_file, chelsea):
    record = provenance_of(report_file.read_text())
    assert record["model"]["name"] == "efficientnet_lite0" and len(record["model"]["digest"]) == 64
    assert {"vizcore", "tensorflow", "keras", "numpy"} <= set(record["versions"])
    assert record["class_index"] == 282
    assert [method["method"] for method in record["methods"]] == ["gradcam", "saliency"]
    assert record["methods"][0]["layer"] == "head_relu"
    embedded = images.decode_image(base64.b64decode(record["image"]["png_base64"]))
    assert (embedded == chelsea).all() and record["image"]["sha256"] == report.pixels_digest(chelsea)


def test_every_user_string_is_escaped(tmp_path, chelsea):
    image = tmp_path / f"{HOSTILE}.png"  # a file name is a user string: it heads the report
    image.write_bytes(images.encode_png(chelsea))
    path = tmp_path / "report.html"
    result = run_cli("report", image, "--methods", "saliency", "--out", path)
    assert result.returncode == 0, result.stderr
    page = path.read_text()
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;img src=x" in page
    assert provenance_of(page)["image"]["name"] == f"{HOSTILE}.png"  # the JSON keeps it as written


def test_rerun_matches_an_untouched_report(report_file):
    result = run_cli("rerun", report_file, "--json")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["match"] is True and verdict["differences"] == []


def test_rerun_says_what_differs_in_a_tampered_report_and_exits_1(report_file, tmp_path):
    page = report_file.read_text()
    record = provenance_of(page)
    record["results"]["maps"][0]["deletion_area"] += 0.05
    record["results"]["predictions"][0]["probability"] -= 0.01
    tampered = tmp_path / "tampered.html"
    tampered.write_text(with_provenance(page, record))
    result = run_cli("rerun", tampered, "--json")
    assert result.returncode == 1, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["match"] is False
    assert {difference["what"] for difference in verdict["differences"]} == {
        "gradcam deletion area", "probability of class 285"}


@pytest.mark.parametrize("change, sentence", [
    (lambda page, record: "<html>no report here</html>", "has no provenance block"),
    (lambda page, record: page.replace('id="provenance">{', 'id="provenance">{{'), "not valid JSON"),
    (lambda page, record: with_provenance(page, {**record, "version": 99}), "version 99"),
    (lambda page, record: with_provenance(page, {**record, "methods": [{"method": "rm -rf", "options": {}}] * 2}),
     "not a method vizcore knows"),
    (lambda page, record: with_provenance(page, {**record, "methods": [
        {"method": "smoothgrad", "layer": None, "options": {"samples": 10**9}}, record["methods"][1]]}),
     "options are not SmoothGrad's"),
    (lambda page, record: with_provenance(page, {**record, "class_index": "282"}), "wrong type"),
    (lambda page, record: page.replace('"deletion_area": ', '"deletion_area": NaN, "x": ', 1), "not valid JSON"),
])
def test_a_malformed_report_is_one_sentence(report_file, change, sentence):
    page = report_file.read_text()
    with pytest.raises(VizcoreError, match=sentence) as raised:
        report.read_provenance(change(page, provenance_of(page)).encode())
    message = str(raised.value)
    assert message.startswith("This is not a vizcore report") and message.endswith(".") and "\n" not in message


def test_an_oversized_report_is_refused_before_it_is_parsed(monkeypatch, report_file):
    monkeypatch.setattr(report, "MAX_REPORT_BYTES", 1000)
    with pytest.raises(VizcoreError, match="larger than"):
        report.read_provenance(report_file.read_bytes())


def test_rerun_of_something_else_exits_2_with_one_sentence(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><body>hello</body></html>")
    assert "no provenance block" in assert_one_sentence_error(run_cli("rerun", path))


def test_report_options_are_the_method_tables():
    smoothgrad, gradcam = report.parse_methods("smoothgrad:samples=16:seed=3,gradcam")
    assert smoothgrad.option_values == {"samples": 16, "noise": 0.05, "blur": 1.0, "seed": 3}
    assert gradcam.options == ()
    with pytest.raises(VizcoreError, match="SmoothGrad samples must be 1 to 512"):
        report.parse_methods("smoothgrad:samples=0")
    with pytest.raises(VizcoreError, match="write option=value"):
        report.parse_methods("gradcam:colour=red")
