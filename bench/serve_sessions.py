"""Claim: on one real server, time to a Grad-CAM result grows less than linearly with the number of visitors.

The issue's figures (#16, before batching and fair turns; 2 cores, Grad-CAM after a sample switch,
caches cleared): median 2.5 s with 1 visitor, 3.7 s with 2, 8.0 s with 4, 18 s with 8 (max 24.6 s),
peak RSS 2.66 GB, 2.45 GB when idle after warm-up at 1.4 GB. This takes them again with the
browser test's machinery (tests/browser.py, bench/pages.py's page reading).

For each session count N in ``--sessions`` (default 1,2,4,8): a new server (``streamlit run app.py``
on ``--port``, so every result cache is empty), warmed by one browser that opens the Grad-CAM page
on the default sample; then N headless Chromium sessions open the Grad-CAM page and wait until it
is idle; then, at once (one thread per browser), each chooses a different sample in the sidebar
(samples repeat past 6 sessions: the second session on a sample waits for the first one's
results, as Streamlit's result cache computes each key once, which flatters the 8-session figure
a little). Time to result: from the choice until a new Grad-CAM
map is on screen. The server's resident memory (RSS, its process tree) is read warm, at the
peak, 10 s after the burst and 10 s after the browsers closed (``server_rss_closed_mb``); set
``MALLOC_ARENA_MAX=2`` for the server's allocator to keep fewer per-thread arenas.

Output: one JSON object, a row per N with median and max seconds, beside the issue's figures.
With ``VIZCORE_BACKEND=ray`` set (and ``vizcore serve-models`` running) the server it starts uses
the shared Ray Serve backend: the same figures for a backend worker.

Run: ``cd /work/main && .venv/bin/python bench/serve_sessions.py [--port 8608] [--sessions 1,2,4,8]
[--screenshots DIR]``
Needs selenium (bench/requirements.txt) and Debian's chromium + chromedriver (``make browser-deps``).
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))  # tests/browser.py
sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))  # bench/pages.py's page reading
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the server

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from browser import (  # noqa: E402
    close_browser, launch_server, missing_browser_files, new_browser, stop_server, wait_for_health,
)
from harness import load_average  # noqa: E402
from pages import PageError, choose_sample, fresh_state, new_image, wait_idle, wait_until  # noqa: E402

DEFAULT_PORT = 8608
# Every sample but the default (chelsea), which the sessions show before the switch.
SAMPLES = ("coffee", "astronaut", "rocket", "motorcycle_left", "hubble_deep_field", "immunohistochemistry")
ISSUE_FIGURES = {1: (2.5, None), 2: (3.7, None), 4: (8.0, None), 8: (18.0, 24.6)}  # (median s, max s)
SETTLE_S = 10.0
TIMEOUT_S = 300.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB (from /proc)."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{current}/task/{current}/children") as children:
                pids.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return total / 2**20


def open_gradcam(url: str):
    driver, profile = new_browser()
    driver.get(url + "/grad-cam")
    wait_until(driver, "the Grad-CAM page", lambda state: "Grad-CAM" in state["titles"] and bool(state["images"]),
               TIMEOUT_S)
    wait_idle(driver, TIMEOUT_S)
    return driver, profile


def burst(url: str, count: int, server_pid: int, screenshots: str | None = None) -> dict:
    browsers = [open_gradcam(url) for _ in range(count)]
    try:
        warm_mb = tree_rss_mb(server_pid)
        barrier = threading.Barrier(count)
        seconds, errors, peak = [None] * count, [], [warm_mb]
        done = threading.Event()

        def visitor(number):
            driver = browsers[number][0]
            try:
                before = fresh_state(driver)
                barrier.wait(TIMEOUT_S)
                start = time.perf_counter()
                choose_sample(driver, SAMPLES[number % len(SAMPLES)])
                wait_until(driver, f"session {number}: the new map", lambda state: new_image(state, before), TIMEOUT_S)
                seconds[number] = time.perf_counter() - start
            except Exception as error:  # reported below
                errors.append(f"session {number}: {error}")

        def sample_memory():
            while not done.is_set():
                peak.append(tree_rss_mb(server_pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample_memory)
        sampler.start()
        threads = [threading.Thread(target=visitor, args=(number,)) for number in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        sampler.join()
        if errors:
            raise PageError("; ".join(errors))
        if screenshots:
            for number, (driver, _) in enumerate(browsers):
                driver.save_screenshot(os.path.join(screenshots, f"sessions{count}-{number}.png"))
        time.sleep(SETTLE_S)
        figures = ISSUE_FIGURES.get(count, (None, None))
        return {
            "sessions": count,
            "median_s": round(statistics.median(seconds), 2),
            "max_s": round(max(seconds), 2),
            "issue_median_s": figures[0],
            "issue_max_s": figures[1],
            "server_rss_warm_mb": round(warm_mb),
            "server_rss_peak_mb": round(max(peak)),
            "server_rss_after_mb": round(tree_rss_mb(server_pid)),
        }
    finally:
        for driver, profile in browsers:
            close_browser(driver, profile)


def measure(port: int, count: int, screenshots: str | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w+", prefix="vizcore-serve-bench-", suffix=".log", delete=False) as log_file:
        cache_dir = os.environ.get("VIZCORE_CACHE_DIR") or tempfile.mkdtemp(prefix="vizcore-serve-cache-")
        server = launch_server(port, cache_dir, log_file)
        try:
            wait_for_health(server, port, log_file.name)
            url = f"http://127.0.0.1:{port}"
            driver, profile = open_gradcam(url)  # warm-up: the model loaded and traced
            close_browser(driver, profile)
            row = burst(url, count, server.pid, screenshots)
            time.sleep(SETTLE_S)  # the browsers are closed: their sessions end
            return {**row, "server_rss_closed_mb": round(tree_rss_mb(server.pid))}
        finally:
            stop_server(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--sessions", default="1,2,4,8", help="comma-separated session counts")
    parser.add_argument("--screenshots", help="a folder for a screenshot of every session's page after its result")
    args = parser.parse_args()
    missing = missing_browser_files()
    if missing:
        print(f"bench/serve_sessions.py needs {', '.join(missing)}: run `make browser-deps`.", file=sys.stderr)
        return 2
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    load_at_start = load_average()
    rows = []
    try:
        for count in (int(text) for text in args.sessions.split(",")):
            rows.append(measure(args.port, count, args.screenshots))
    except PageError as error:
        print(f"bench/serve_sessions.py: {error}", file=sys.stderr)
        return 1
    print(json.dumps({
        "claim": "time to a Grad-CAM result after a sample switch, N sessions at once on one server",
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": load_at_start,
        "load_average_1m_at_end": load_average(),
        "rows": rows,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
