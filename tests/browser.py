"""The dashboard in a real browser: the app server on loopback, driven by headless Chromium.

Shared by tests/test_browser.py and bench/cold_start.py. Needs Debian's ``chromium`` and
``chromium-driver`` (``make browser-deps``) and selenium (tests/requirements.txt). The network
here is closed, so Chromium starts with everything that phones home turned off, and with a fresh
profile each time (we may run as root, hence ``--no-sandbox``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
)
WINDOW_SIZE = (1400, 1000)  # CSS pixels: wide enough for the sidebar and the pages' columns side by side
HEALTH_PATH = "/_stcore/health"
HEALTH_TIMEOUT_S = 120
POLL_S = 0.1
SERVER_STOP_TIMEOUT_S = 15
LOG_TAIL_CHARS = 3000

CAT_CLASSES = ("Egyptian cat", "tabby", "tiger cat")  # the default sample chelsea's top classes
CAPTION_PREFIX = "Model time:"

# What the page shows: the page title, the sidebar's navigation links (their text after the icon's
# name), Streamlit captions, image captions, the Plotly SVG text, error boxes, and the script's
# state ("running", "notRunning", ...; the attribute Streamlit's own end-to-end tests wait on).
PAGE_STATE_JS = """
const texts = (selector) => Array.from(document.querySelectorAll(selector)).map((e) => e.textContent);
const app = document.querySelector('[data-testid="stApp"]');
return {
  titles: texts('[data-testid="stMain"] h1'),
  nav: Array.from(document.querySelectorAll('[data-testid="stSidebarNavLink"]'))
    .map((link) => link.innerText.trim().split("\\n").pop().trim()),
  captions: texts('[data-testid="stCaptionContainer"]'),
  image_captions: texts('[data-testid="stImageCaption"]'),
  chart: texts('.js-plotly-plot svg text'),
  errors: texts('[data-testid="stException"], [data-testid="stAlertContentError"]'),
  script_state: app === null ? null : app.getAttribute('data-test-script-state'),
};
"""


class AppServerError(Exception):
    """The app server could not be started or died; the message ends with its log."""


def missing_browser_files() -> list[str]:
    """The Chromium and chromedriver paths that are not installed (empty when both are)."""
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def launch_server(port: int, cache_dir: str, log_file) -> subprocess.Popen:
    """``streamlit run app.py`` on ``HOST:port`` with ``VIZCORE_CACHE_DIR=cache_dir``; output goes to ``log_file``."""
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.address", HOST,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = {**os.environ, "VIZCORE_CACHE_DIR": cache_dir}
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def log_tail(log_path: str) -> str:
    with open(log_path, encoding="utf-8", errors="replace") as log:
        return log.read()[-LOG_TAIL_CHARS:]


def health_ok(port: int) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(f"http://{HOST}:{port}{HEALTH_PATH}", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def check_server_alive(server: subprocess.Popen, log_path: str) -> None:
    if server.poll() is not None:
        raise AppServerError(f"the server exited with code {server.returncode}:\n{log_tail(log_path)}")


def wait_for_health(server: subprocess.Popen, port: int, log_path: str, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        check_server_alive(server, log_path)
        if health_ok(port):
            return
        time.sleep(POLL_S)
    raise AppServerError(f"the server was not healthy within {timeout_s} s:\n{log_tail(log_path)}")


def new_browser(download_dir: str | None = None):
    """(driver, profile_dir): headless Chromium on a blank page with a fresh profile.

    Files the page downloads are saved in ``download_dir`` without asking, when it is given.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = tempfile.mkdtemp(prefix="vizcore-chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    width, height = WINDOW_SIZE
    for argument in (*CHROME_ARGS, f"--window-size={width},{height}", f"--user-data-dir={profile_dir}"):
        options.add_argument(argument)
    service = Service(executable_path=CHROMEDRIVER, log_output=subprocess.DEVNULL)
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except Exception:
        shutil.rmtree(profile_dir, ignore_errors=True)
        raise
    if download_dir is not None:
        allow_downloads(driver, download_dir)
    return driver, profile_dir


def allow_downloads(driver, download_dir: str) -> None:
    """Save what the page downloads in ``download_dir`` (an existing folder), without asking."""
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})


def close_browser(driver, profile_dir: str) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)


def page_state(driver) -> dict:
    """What the page shows now: see PAGE_STATE_JS."""
    return driver.execute_script(PAGE_STATE_JS)


def predictions_visible(state: dict) -> bool:
    """The Predictions page shows the default sample's result: its caption and a cat class in the chart."""
    caption = any(text.strip().startswith(CAPTION_PREFIX) for text in state["captions"])
    cat_in_chart = any(cat in text for text in state["chart"] for cat in CAT_CLASSES)
    return caption and cat_in_chart
