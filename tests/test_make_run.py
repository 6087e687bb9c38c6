"""`make run` as a user starts it: the server's log says where the app is, and nothing that looks like a fault.

Streamlit looks up the machine's public IP on the internet for its start-up banner when it runs
headless (no DISPLAY); offline that prints "Did not auto detect external IP" and costs 2 s. The
Makefile names the address to show instead, so the banner is one URL.
"""

import os
import signal
import subprocess
import sys
import time

import browser  # tests/ helpers: free ports and the health check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.dirname(os.path.dirname(sys.executable))
BANNER_TIMEOUT_S = 60


def test_make_run_shows_one_url_and_no_network_lookup(tmp_path):
    port = browser.free_port()
    log_path = tmp_path / "server.log"
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}  # as on a server
    env["VIZCORE_CACHE_DIR"] = str(tmp_path / "cache")
    # -o: never (re)install here, whatever the stamp's age: tests do not reach the network.
    command = ["make", "-o", f"{VENV}/.runtime-installed", "run", f"PORT={port}", f"VENV={VENV}"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        browser.wait_for_health(server, port, str(log_path))
        deadline = time.perf_counter() + BANNER_TIMEOUT_S
        while "URL:" not in log_path.read_text() and time.perf_counter() < deadline:
            time.sleep(browser.POLL_S)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the server it started, nothing else
        server.wait(browser.SERVER_STOP_TIMEOUT_S)
    text = log_path.read_text()
    urls = [line.strip() for line in text.splitlines() if "URL:" in line]
    assert urls == [f"URL: http://localhost:{port}"], text
    assert "external IP" not in text and "cuInit" not in text and "Traceback" not in text, text
