"""Claim: the app's cold start, from `streamlit run app.py` to the first predictions in a browser.

Each run launches its own server (``python -m streamlit run app.py``, headless, on a free port
bound to 127.0.0.1) and drives headless Chromium through Selenium. A browser is already open on a
blank page when the server is launched (a user's browser is already running; Chromium is also
started once, untimed, before the first run), so browser start-up is not counted. Per run:

* ``server_ready_s``: launch -> ``GET /_stcore/health`` answers 200.
* ``cold_first_predictions_s``: launch -> the Predictions page shows the default sample's top
  classes in the first browser session (the "Model time:" caption, and a cat class such as
  "Egyptian cat" in the Plotly bar chart's SVG text). The page is requested as soon as the server
  is ready, as ``streamlit run`` does when it opens the browser.
* ``warm_first_predictions_s`` (the baseline): a second, new browser session (fresh profile) on the
  same running server, from requesting the page -> predictions visible: what one more visitor costs
  once the model (and this image's result) is cached in the server.
* ``cold_model_caption_s`` / ``warm_model_caption_s``: the same clocks stopped when the "Model
  time:" caption first appears; the rest, up to ``*_first_predictions_s``, is the browser loading
  and drawing the Plotly chart.

Scenarios, interleaved per repeat: ``cached_weights`` (VIZCORE_CACHE_DIR pre-filled by one
``vizcore.load_model()`` in a subprocess before timing) and ``first_ever`` (an empty
VIZCORE_CACHE_DIR per run, so the torch -> Keras weight conversion happens during the cold start).
Output: one JSON object with every run's figures, the medians per scenario, ``cold_over_warm`` =
median cold / median warm (how many times longer the first visitor waits than a later one) and
``first_ever_over_cached_cold`` / ``conversion_cost_s`` (difference of the cold medians). A
screenshot of the last scenario's first cold session (``first_ever`` by default) goes to
``--screenshot``.

Run: ``cd /work/main && .venv/bin/python bench/cold_start.py [--repeats N] [--screenshot PATH]``
Needs selenium (``pip install -r bench/requirements.txt``) and Debian's chromium + chromedriver.
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))  # tests/browser.py: the server and Chromium helpers
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the server and pre-fill processes

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402

from browser import (  # noqa: E402
    CAPTION_PREFIX,
    HOST,
    LOG_TAIL_CHARS,
    PAGE_STATE_JS,
    POLL_S,
    AppServerError,
    close_browser,
    free_port,
    launch_server,
    missing_browser_files,
    new_browser,
    predictions_visible,
    stop_server,
    wait_for_health,
)
from harness import load_average  # noqa: E402  (bench/harness.py)

SCENARIOS = ("cached_weights", "first_ever")
PREDICTIONS_TIMEOUT_S = 180
IMAGES_TIMEOUT_S = 10
MEDIAN_FIGURES = (
    "server_ready_s",
    "cold_model_caption_s",
    "cold_first_predictions_s",
    "warm_model_caption_s",
    "warm_first_predictions_s",
)
DEFAULT_REPEATS = 2
DEFAULT_SCREENSHOT = os.path.join(REPO_ROOT, "bench", "results", "cold_start.png")

IMAGES_LOADED_JS = "return Array.from(document.images).every((image) => image.complete);"


class BenchError(Exception):
    """A run that could not be measured; the message says why."""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="server launches per scenario")
    parser.add_argument("--screenshot", default=DEFAULT_SCREENSHOT, help="PNG of the last scenario's first cold page")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    return parser.parse_args()


def check_prerequisites():
    try:
        import selenium  # noqa: F401
    except ImportError:
        sys.stderr.write("bench/cold_start.py needs selenium: run .venv/bin/pip install -r bench/requirements.txt.\n")
        sys.exit(2)
    missing = missing_browser_files()
    if missing:
        sys.stderr.write(f"bench/cold_start.py needs {', '.join(missing)}: run `make browser-deps`.\n")
        sys.exit(2)


def server_env(cache_dir):
    env = dict(os.environ)
    env["VIZCORE_CACHE_DIR"] = cache_dir
    return env


def prefill_cache(cache_dir):
    """Convert and cache the embedded model's weights in ``cache_dir``, in a separate process."""
    command = [sys.executable, "-c", "import vizcore; vizcore.load_model()"]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, env=server_env(cache_dir), check=True, capture_output=True)
    if not os.listdir(cache_dir):
        raise BenchError(f"pre-filling {cache_dir} left it empty")
    return time.perf_counter() - start


def wait_for_predictions(driver, since):
    """Poll until the predictions show; returns seconds from ``since`` to the "Model time:" caption.

    Raises BenchError on an error box in the page or after the timeout.
    """
    deadline = time.perf_counter() + PREDICTIONS_TIMEOUT_S
    state, caption_s = {}, None
    while time.perf_counter() < deadline:
        state = driver.execute_script(PAGE_STATE_JS)
        if state["errors"]:
            raise BenchError(f"the page shows an error: {state['errors']}")
        if caption_s is None and any(text.strip().startswith(CAPTION_PREFIX) for text in state["captions"]):
            caption_s = time.perf_counter() - since
        if predictions_visible(state):
            return caption_s
        time.sleep(POLL_S)
    raise BenchError(f"no predictions within {PREDICTIONS_TIMEOUT_S} s; last page state: {state}")


def save_screenshot(driver, path):
    """Wait (briefly, untimed) for the page's images, then save a PNG."""
    deadline = time.perf_counter() + IMAGES_TIMEOUT_S
    while time.perf_counter() < deadline and not driver.execute_script(IMAGES_LOADED_JS):
        time.sleep(POLL_S)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    driver.save_screenshot(path)


def cold_session(port, cache_dir, log_path, screenshot_path):
    """Launch the server with a browser already open; returns (server, figures, browser_version)."""
    driver, profile_dir = new_browser()
    server = None
    try:
        with open(log_path, "ab") as log_file:
            launched = time.perf_counter()
            server = launch_server(port, cache_dir, log_file)
        wait_for_health(server, port, log_path)
        ready = time.perf_counter()
        driver.get(f"http://{HOST}:{port}/")
        caption_s = wait_for_predictions(driver, launched)
        shown = time.perf_counter()
        if screenshot_path:
            save_screenshot(driver, screenshot_path)
        figures = {
            "server_ready_s": ready - launched,
            "cold_first_predictions_s": shown - launched,
            "cold_model_caption_s": caption_s,
        }
        return server, figures, driver.capabilities.get("browserVersion")
    except BaseException:
        if server is not None:
            stop_server(server)
        raise
    finally:
        close_browser(driver, profile_dir)


def warm_session(port):
    """A new visitor on the running server: seconds from requesting the page to the caption and
    to the predictions shown."""
    driver, profile_dir = new_browser()
    try:
        requested = time.perf_counter()
        driver.get(f"http://{HOST}:{port}/")
        caption_s = wait_for_predictions(driver, requested)
        return {"warm_first_predictions_s": time.perf_counter() - requested, "warm_model_caption_s": caption_s}
    finally:
        close_browser(driver, profile_dir)


def warm_up_browser():
    """Start and quit Chromium once, untimed, so its files are in the OS cache like a running browser's."""
    driver, profile_dir = new_browser()
    try:
        driver.get("about:blank")
    finally:
        close_browser(driver, profile_dir)


def run_once(cache_dir, log_path, screenshot_path):
    """One server launch: cold session, then a warm one; the server is always stopped."""
    port = free_port()
    server, figures, browser_version = cold_session(port, cache_dir, log_path, screenshot_path)
    try:
        figures.update(warm_session(port))
    finally:
        stop_server(server)
    figures = {name: round(value, 3) for name, value in figures.items()}
    figures["weights_cached_after"] = bool(os.listdir(cache_dir))
    return figures, browser_version


def scenario_cache_dir(name, number, work_dir, prefilled):
    if name == "cached_weights":
        return prefilled
    cache_dir = os.path.join(work_dir, f"cache-empty-{number}")
    os.makedirs(cache_dir)
    return cache_dir


def median_of(runs, name):
    return round(statistics.median(run[name] for run in runs), 3)


def summarise(runs):
    """Medians over one scenario's runs, and the cold/warm ratio of the medians."""
    result = {name: median_of(runs, name) for name in MEDIAN_FIGURES}
    result["cold_over_warm"] = round(result["cold_first_predictions_s"] / result["warm_first_predictions_s"], 2)
    result["runs"] = runs
    return result


def run_all(scenarios, repeats, screenshot_path):
    """Every run, scenarios interleaved per repeat so slow drift hits them alike; (summaries, prefill_s, version)."""
    runs = {name: [] for name in scenarios}
    browser_version = None
    with tempfile.TemporaryDirectory(prefix="vizcore-bench-cold-") as work_dir:
        prefilled = os.path.join(work_dir, "cache-prefilled")
        os.makedirs(prefilled)
        prefill_s = round(prefill_cache(prefilled), 3) if "cached_weights" in scenarios else None
        warm_up_browser()
        for number in range(repeats):
            for name in scenarios:
                cache_dir = scenario_cache_dir(name, number, work_dir, prefilled)
                log_path = os.path.join(work_dir, f"server-{name}-{number}.log")
                shot = screenshot_path if number == 0 and name == scenarios[-1] else None
                figures, browser_version = run_once(cache_dir, log_path, shot)
                runs[name].append(figures)
    return {name: summarise(runs[name]) for name in scenarios}, prefill_s, browser_version


def compare_scenarios(scenarios):
    if not set(SCENARIOS) <= set(scenarios):
        return {}
    first, cached = scenarios["first_ever"], scenarios["cached_weights"]
    return {
        "first_ever_over_cached_cold": round(
            first["cold_first_predictions_s"] / cached["cold_first_predictions_s"], 2
        ),
        "conversion_cost_s": round(first["cold_first_predictions_s"] - cached["cold_first_predictions_s"], 3),
    }


def main():
    args = parse_args()
    load_at_start = load_average()
    check_prerequisites()
    try:
        scenarios, prefill_s, browser_version = run_all(args.scenarios, args.repeats, args.screenshot)
    except (BenchError, AppServerError, subprocess.CalledProcessError) as error:
        details = getattr(error, "stderr", None) or b""
        sys.stderr.write(f"bench/cold_start.py: {error}\n{details.decode(errors='replace')[-LOG_TAIL_CHARS:]}")
        return 1
    report = {
        "claim": "cold start: `streamlit run app.py` launch -> first predictions rendered in a browser",
        "baseline": "warm_first_predictions_s: a new browser session on the already-running server",
        "streamlit": metadata.version("streamlit"),
        "selenium": metadata.version("selenium"),
        "chromium": browser_version,
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": load_at_start,
        "repeats": args.repeats,
        "prefill_subprocess_s": prefill_s,
        "scenarios": scenarios,
        **compare_scenarios(scenarios),
        "screenshot": os.path.abspath(args.screenshot),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
