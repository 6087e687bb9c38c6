"""Claim: on a warm server every page shows its first result within 3 s, and a long run its first live
preview within 1 s, on this CPU.

One server (``python -m streamlit run app.py``, headless, on 127.0.0.1:``--port``, default 8611) and
headless Chromium through Selenium (tests/browser.py's helpers). The server is warm: the model is
loaded and traced by a first session, which then visits every page once on the sample chelsea
(``first_visit_s``: what the first visitor of a page pays, one-time traces such as guided
backprop's model copy included). The measured session is a new browser session: it chooses the
sample coffee in the sidebar, whose results nothing has computed yet, and visits every page at its
defaults, in the sidebar's order:

* a page that computes on opening (predictions, activation explorer, occlusion & saliency,
  Grad-CAM): the clock starts at the click on its sidebar link (for predictions: at the choice of
  the sample) and stops when its first result is on screen, not stale (Streamlit keeps the
  previous run's elements faded until they are replaced): the chart, the channel grid, the first
  attribution map;
* a long run (filter gallery, DeepDream, style transfer, and the occlusion page's Occlusion run):
  the clock starts at the click on its Run button (Render, Dream, Paint, Run Occlusion) and stops
  at the first live preview; then Stop is pressed, so the next page has the CPU.

Targets: ``result`` rows at most 3 s, ``preview`` rows at most 1 s. Output: one JSON object with a
row per page and measurement (``seconds``, ``target_s``, ``meets_target``), the warm-up figures,
and the load average (this machine may be shared: timings are noisy; rerun on a quiet machine).
``--app-dir`` serves another checkout's app.py (e.g. ``git archive HEAD`` unpacked elsewhere) with
this checkout's environment, for a before/after comparison in the same conditions.

Run: ``cd /work/main && .venv/bin/python bench/pages.py [--port 8611] [--app-dir DIR] [--screenshots DIR]
[--pages "Occlusion & saliency,Grad-CAM"]``
Needs selenium (bench/requirements.txt) and Debian's chromium + chromedriver (``make browser-deps``).
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))  # tests/browser.py: the server and Chromium helpers
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the server

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable  # noqa: E402

from browser import (  # noqa: E402
    HOST, POLL_S, close_browser, missing_browser_files, new_browser, predictions_visible, stop_server, wait_for_health,
)
from harness import load_average  # noqa: E402  (bench/harness.py)

DEFAULT_PORT = 8611
WARM_SAMPLE = "chelsea"  # the app's default sample: the warm-up session's
MEASURED_SAMPLE = "coffee"  # chosen in the measured session: nothing has computed its results
COFFEE_CLASS = "espresso"
RESULT_TARGET_S = 3.0
PREVIEW_TARGET_S = 1.0
TIMEOUT_S = 240.0
STOP_WAIT_S = 60.0

# What the main area shows now, from elements that are not stale: image captions, captions, the
# number of images, markdown text, Plotly SVG text, button labels, error boxes, and the script's state.
FRESH_STATE_JS = """
const fresh = Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stElementContainer"]'))
  .filter((element) => element.getAttribute('data-stale') !== 'true');
const texts = (selector) => fresh.flatMap((element) => Array.from(element.querySelectorAll(selector)))
  .map((element) => element.textContent);
const app = document.querySelector('[data-testid="stApp"]');
return {
  titles: Array.from(document.querySelectorAll('[data-testid="stMain"] h1')).map((element) => element.textContent),
  image_captions: texts('[data-testid="stImageCaption"]'),
  captions: texts('[data-testid="stCaptionContainer"]'),
  images: fresh.flatMap((element) => Array.from(element.querySelectorAll('[data-testid="stImage"] img')))
    .map((image) => image.getAttribute('src')),
  markdown: texts('[data-testid="stMarkdownContainer"]'),
  chart: texts('.js-plotly-plot svg text'),
  buttons: texts('[data-testid="stButton"] button'),
  errors: texts('[data-testid="stException"], [data-testid="stAlertContentError"]'),
  script_state: app === null ? null : app.getAttribute('data-test-script-state'),
};
"""


def starts(texts, prefix: str) -> bool:
    return any(text.strip().startswith(prefix) for text in texts)


@dataclass(frozen=True)
class Measure:
    page: str  # the sidebar link's text
    kind: str  # "result" or "preview"
    shown: Callable[[dict, dict], bool]  # (state now, state before the click): true once it shows (FRESH_STATE_JS)
    run_button: str = ""  # a preview's clock starts at this button's click

    @property
    def target_s(self) -> float:
        return PREVIEW_TARGET_S if self.kind == "preview" else RESULT_TARGET_S


def new_image(state: dict, before: dict) -> bool:
    """An image in the main area that was not there before the click (the previous page's stay a moment)."""
    return bool(set(state["images"]) - set(before["images"]))


def predictions_shown(state: dict, before: dict) -> bool:
    return starts(state["captions"], "Model time:") and any(COFFEE_CLASS in text for text in state["chart"])


MEASURES = (
    Measure("Predictions", "result", predictions_shown),
    Measure("Activation explorer", "result", lambda state, before: starts(state["image_captions"], "Channels ")),
    Measure("Filter gallery", "preview", lambda state, before: starts(state["image_captions"], "Live preview")
            or starts(state["image_captions"], "channel "), run_button="Render"),
    Measure("Occlusion & saliency", "result", new_image),
    Measure("Occlusion & saliency", "preview", lambda state, before: starts(state["image_captions"], "Occlusion so far")
            or starts(state["markdown"], "Occlusion ·"), run_button="Run Occlusion"),
    Measure("Grad-CAM", "result", new_image),
    Measure("DeepDream", "preview", lambda state, before: starts(state["image_captions"], "After octave")
            or starts(state["image_captions"], "The dream:"), run_button="Dream"),
    Measure("Style transfer", "preview", lambda state, before: starts(state["image_captions"], "Live preview")
            or starts(state["image_captions"], "Styled:"), run_button="Paint"),
)


class PageError(Exception):
    pass


def fresh_state(driver) -> dict:
    return driver.execute_script(FRESH_STATE_JS)


def wait_until(driver, what: str, done: Callable[[dict], bool], timeout_s: float = TIMEOUT_S) -> float:
    """Seconds until ``done(state)``; raises PageError on an error box or after ``timeout_s``."""
    start = time.perf_counter()
    while True:
        state = fresh_state(driver)
        if state["errors"]:
            raise PageError(f"{what}: the page shows an error: {state['errors']}")
        if done(state):
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout_s:
            raise PageError(f"{what}: not shown within {timeout_s} s; the page shows {state}")
        time.sleep(POLL_S / 2)


def wait_idle(driver, timeout_s: float = TIMEOUT_S) -> None:
    """The script run has finished (the page is idle)."""
    time.sleep(0.5)  # a click starts a run within this
    wait_until(driver, "the end of the run", lambda state: state["script_state"] == "notRunning", timeout_s)


def click_nav(driver, title: str) -> None:
    from selenium.webdriver.common.by import By

    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
    matching = [link for link in links if link.text.splitlines()[-1:] == [title]]
    if not matching:
        raise PageError(f"no sidebar link {title!r}")
    matching[0].click()


def button(driver, label_prefix: str):
    from selenium.webdriver.common.by import By

    xpath = f'//*[@data-testid="stMain"]//*[@data-testid="stButton"]//button[starts-with(normalize-space(), "{label_prefix}")]'
    buttons = driver.find_elements(By.XPATH, xpath)
    return buttons[0] if buttons else None


def choose_sample(driver, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"] input[role="combobox"][aria-label="Sample photo"]').click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.XPATH, f'//*[@role="option"][normalize-space()="{name}"]')
    ).click()


def stop_run(driver) -> None:
    """Press Stop if a run is still going, and wait until the page is idle."""
    stop = button(driver, "Stop")
    if stop is not None:
        stop.click()
    wait_idle(driver, STOP_WAIT_S)


def measure(driver, item: Measure, current_page: str) -> tuple[float, str]:
    """Seconds from the click (sidebar link, or Run button) to ``item`` on screen; and the page now shown."""
    if item.page != current_page:
        before = fresh_state(driver)
        start = time.perf_counter()
        click_nav(driver, item.page)
        if not item.run_button:
            wait_until(driver, f"{item.page}: first result",
                       lambda state: item.page in state["titles"] and item.shown(state, before))
            return time.perf_counter() - start, item.page
        wait_until(driver, f"{item.page}: its {item.run_button} button", lambda state: starts(state["buttons"], item.run_button))
        wait_idle(driver)
    run = button(driver, item.run_button)
    if run is None:
        return None, item.page  # this version of the page has no such button (a before/after comparison)
    before = fresh_state(driver)
    start = time.perf_counter()
    run.click()
    wait_until(driver, f"{item.page}: first preview", lambda state: item.shown(state, before))
    seconds = time.perf_counter() - start
    stop_run(driver)
    return seconds, item.page


def tour(driver, screenshots: str | None, prefix: str, choose: str | None, pages: set[str]) -> list[dict]:
    """The measurements of ``pages`` in MEASURES, in order, after choosing the sample ``choose`` (when given)
    on the Predictions page, which the session shows first."""
    rows = []
    current = "Predictions"
    for item in MEASURES:
        if item.page == "Predictions":
            if choose is None:
                continue  # the session's first page: already shown
            before = fresh_state(driver)
            start = time.perf_counter()
            choose_sample(driver, choose)
            wait_until(driver, "Predictions", lambda state: item.shown(state, before))
            seconds = time.perf_counter() - start
            wait_idle(driver)
            if item.page not in pages:
                continue
        elif item.page not in pages:
            continue
        else:
            seconds, current = measure(driver, item, current)
        if item.kind == "result":
            wait_idle(driver)  # let the page finish, so its remaining work does not slow the next
        rows.append({"page": item.page, "kind": item.kind, "started_by": item.run_button or "opening the page",
                     "seconds": None if seconds is None else round(seconds, 2), "target_s": item.target_s,
                     "meets_target": seconds is not None and seconds <= item.target_s})
        if screenshots:
            driver.save_screenshot(os.path.join(screenshots, f"{prefix}-{len(rows)}-{item.page.split()[0].lower()}.png"))
    return rows


def launch(app_dir: str, port: int, log_file) -> subprocess.Popen:
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.address", HOST, "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    return subprocess.Popen(command, cwd=app_dir, env=dict(os.environ), stdout=log_file, stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--app-dir", default=REPO_ROOT, help="the checkout whose app.py is served")
    parser.add_argument("--screenshots", help="a folder for a screenshot after each measurement")
    parser.add_argument("--pages", default=",".join(dict.fromkeys(item.page for item in MEASURES)),
                        help="comma-separated sidebar titles of the pages to measure (default: every page)")
    args = parser.parse_args()
    pages = {title.strip() for title in args.pages.split(",")}
    missing = missing_browser_files()
    if missing:
        print(f"bench/pages.py needs {', '.join(missing)}: run `make browser-deps`.", file=sys.stderr)
        return 2
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    load_at_start = load_average()
    with tempfile.NamedTemporaryFile("w+", prefix="vizcore-pages-bench-", suffix=".log", delete=False) as log_file:
        log_path = log_file.name
        server = launch(os.path.abspath(args.app_dir), args.port, log_file)
        try:
            wait_for_health(server, args.port, log_path)
            url = f"http://{HOST}:{args.port}"
            driver, profile = new_browser()
            try:
                start = time.perf_counter()
                driver.get(url + "/")
                wait_until(driver, "the first page", predictions_visible)
                cold_first_predictions_s = time.perf_counter() - start
                wait_idle(driver)
                first_visit = tour(driver, args.screenshots, "first-visit", None, pages)
            finally:
                close_browser(driver, profile)
            driver, profile = new_browser()
            try:
                driver.get(url + "/")
                wait_until(driver, "the measured session's first page", predictions_visible)
                wait_idle(driver)
                rows = tour(driver, args.screenshots, "measured", MEASURED_SAMPLE, pages)
            finally:
                close_browser(driver, profile)
        except PageError as error:
            print(f"bench/pages.py: {error}\nserver log:\n{open(log_path).read()[-3000:]}", file=sys.stderr)
            return 1
        finally:
            stop_server(server)
    report = {
        "claim": f"first result within {RESULT_TARGET_S:g} s, first live preview within {PREVIEW_TARGET_S:g} s, warm server",
        "app_dir": os.path.abspath(args.app_dir),
        "measured_sample": MEASURED_SAMPLE,
        "load_average_1m_at_start": load_at_start,
        "load_average_1m_at_end": load_average(),
        "cpu_count": os.cpu_count(),
        "cold_first_predictions_s": round(cold_first_predictions_s, 2),
        "pages": rows,
        "first_visit_on_chelsea": first_visit,
        "all_meet_targets": all(row["meets_target"] for row in rows),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
