"""The dashboard end to end in a real browser: every page, the sidebar, an upload and downloads.

First, every page's URL is the very first request to a newly started server (a process's first
script run is special in Streamlit: ui/navigation.py), and must show that page under the app's
own sidebar and navigation, with no "Page not found" notice. Then a module fixture starts
``streamlit run app.py`` on a free loopback port; headless Chromium (Debian's ``chromium`` +
``chromedriver``, through Selenium) drives it as a user would: each test
opens a fresh session, follows the sidebar's navigation links, presses a page's Render / Dream /
Paint button (with its steps slider moved to the minimum from the keyboard, to keep CPU runs
short) and waits for the page's result image or chart. Every step leaves a full-page screenshot
in ``artifacts/browser/`` for a person to look at, and the server's log beside them.

Needs /usr/bin/chromium and /usr/bin/chromedriver (``make browser-deps``) and selenium. Without
them the tests skip on a developer's machine and fail in CI (where ``CI`` is set).
Run: ``make e2e`` (installs all of that, then runs this file only).
"""

import contextlib
import csv
import fnmatch
import json
import os
import re
import shutil
import time
import urllib.request
from dataclasses import dataclass
from typing import Callable

import pytest
from PIL import Image

import browser
import vizcore
from vizcore.log_lines import TENSORFLOW_IMPORT_LINES

try:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported by require_browser: skipped on a laptop, a failure in CI
    SELENIUM_MISSING = True
else:
    SELENIUM_MISSING = False

ARTIFACTS = os.path.join(browser.REPO_ROOT, "artifacts", "browser")
RESULT_TIMEOUT_S = 240  # a page's main result, from the click; TF on 2 shared CPU cores is slow
PAGE_TIMEOUT_S = 60  # a page switch or a sidebar change, when nothing long is computed
RERUN_START_S = 3  # a widget change starts a script run within this; a run may also finish before it is seen
DOWNLOAD_TIMEOUT_S = 30
IMAGES_TIMEOUT_S = 15
SCREENSHOT_MAX_HEIGHT = 8000  # CSS pixels; the tallest page is about half that
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COFFEE_CLASS = "espresso"
UPLOAD_SAMPLE = "motorcycle_left"
UPLOAD_FILE_NAME = "my-motorbike.jpg"
UPLOAD_CLASSES = ("moped", "motor scooter")

# Every <img> has loaded (and none is broken), and the heights a full-page screenshot must show:
# Streamlit scrolls the main area and the sidebar inside their own containers, not the document.
IMAGES_STATE_JS = """
const images = Array.from(document.images);
return {
  loading: images.filter((image) => !image.complete).length,
  broken: images.filter((image) => image.complete && image.naturalWidth === 0).length,
};
"""
CONTENT_HEIGHT_JS = """
const main = document.querySelector('[data-testid="stMain"]');
const sidebar = document.querySelector('[data-testid="stSidebarContent"]');
return {content: Math.max(main.scrollHeight, sidebar ? sidebar.scrollHeight : 0), visible: main.clientHeight};
"""


@dataclass(frozen=True)
class Page:
    title: str  # the sidebar link's text and the page's heading
    url_path: str
    result: Callable[[dict], bool]  # true once the page state (browser.page_state) shows the page's result
    run_button: str = ""  # a long-run page's primary button starts with this
    steps_slider: str = ""  # label of the slider moved to its minimum before pressing run_button
    settings_expander: str = ""  # the expander that holds steps_slider, when it is folded


def image_captions_starting(state: dict, prefix: str) -> list[str]:
    return [caption for caption in state["image_captions"] if caption.startswith(prefix)]


def maps_shown(count: int) -> Callable[[dict], bool]:
    """True once ``count`` attribution maps show with their curves; the caption under each gives their areas."""
    return lambda state: sum(caption.startswith("deletion ") for caption in state["captions"]) == count


PAGES = [
    Page("Predictions", "", browser.predictions_visible),
    Page("Activation explorer", "activation-explorer", lambda state: bool(image_captions_starting(state, "Channels "))),
    Page("Filter gallery", "filter-gallery",
         lambda state: bool(image_captions_starting(state, "channel ")),  # each finished image has its channel
         run_button="Render", steps_slider="Steps", settings_expander="Settings"),
    Page("Occlusion & saliency", "occlusion-and-saliency", maps_shown(2)),  # saliency, guided: the others run on Run
    Page("Grad-CAM", "grad-cam", maps_shown(3)),  # two classes side by side, and what tells them apart
    Page("DeepDream", "deep-dream", lambda state: bool(image_captions_starting(state, "The dream:")),
         run_button="Dream", steps_slider="Steps per octave"),
    Page("Style transfer", "style-transfer", lambda state: bool(image_captions_starting(state, "Styled:")),
         run_button="Paint", steps_slider="Steps"),
    Page("Feature inversion", "feature-inversion", lambda state: bool(image_captions_starting(state, "From ")),
         run_button="Invert", steps_slider="Steps"),
    Page("Texture synthesis", "texture-synthesis", lambda state: bool(image_captions_starting(state, "New texture:")),
         run_button="Synthesise", steps_slider="Steps"),
    Page("Adversarial examples", "adversarial-examples",
         lambda state: len(image_captions_starting(state, "Grad-CAM for ")) >= 2,  # shown last: one class, or both
         run_button="Attack", steps_slider="Steps"),
    Page("Dataset explorer", "dataset-explorer",  # builds the demo index at one image per photo, then its views
         lambda state: bool(image_captions_starting(state, "1. distance")),  # the neighbours grid, below the map
         run_button="Build the index", steps_slider="Demo images per photo"),
]
PAGES_BY_TITLE = {page.title: page for page in PAGES}


@dataclass(frozen=True)
class RunningServer:
    process: object  # subprocess.Popen
    url: str
    log_path: str

    def check_alive(self) -> None:
        try:
            browser.check_server_alive(self.process, self.log_path)
        except browser.AppServerError as error:
            pytest.fail(f"the app server died: {error}")

    def log(self) -> str:
        return browser.log_tail(self.log_path)


def require_browser() -> None:
    missing = browser.missing_browser_files()
    if SELENIUM_MISSING:
        missing.append("the selenium package")
    if missing:
        reason = f"needs {', '.join(missing)}: run `make browser-deps`"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the browser test)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def artifacts():
    require_browser()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # only this test writes there: no stale screenshots
    os.makedirs(ARTIFACTS)
    return ARTIFACTS


@contextlib.contextmanager
def running_server(log_path: str):
    """A new ``streamlit run app.py`` process on a free loopback port, healthy; stopped on exit."""
    port = browser.free_port()
    with open(log_path, "wb") as log_file:
        process = browser.launch_server(port, os.environ["VIZCORE_CACHE_DIR"], log_file)
    try:
        try:
            browser.wait_for_health(process, port, log_path)
        except browser.AppServerError as error:
            pytest.fail(str(error), pytrace=False)
        yield RunningServer(process, f"http://{browser.HOST}:{port}", log_path)
    finally:
        browser.stop_server(process)


@pytest.fixture(scope="module")
def server(artifacts, tmp_path_factory):
    """One server for the tests that follow the sidebar from page to page."""
    log_path = str(tmp_path_factory.mktemp("app-server") / "server.log")
    try:
        with running_server(log_path) as running:
            yield running
    finally:
        shutil.copy(log_path, os.path.join(ARTIFACTS, "server.log"))


@pytest.fixture(scope="module")
def driver(artifacts):
    chromium, profile_dir = browser.new_browser()
    yield chromium
    browser.close_browser(chromium, profile_dir)


def wait_for(driver, server, what, done, timeout_s=PAGE_TIMEOUT_S, finished=True) -> dict:
    """The page state once ``done(state)`` holds (and the script run has finished, unless ``finished`` is
    false); fails on an error box."""
    deadline = time.perf_counter() + timeout_s
    while True:
        server.check_alive()
        state = browser.page_state(driver)
        if state["errors"]:
            failure_screenshot(driver)
            pytest.fail(f"{what}: the page shows an error: {state['errors']}\nserver log:\n{server.log()}")
        if (state["script_state"] == "notRunning" or not finished) and done(state):
            return state
        if time.perf_counter() > deadline:
            failure_screenshot(driver)
            pytest.fail(f"{what}: not shown within {timeout_s} s; page state: {state}\nserver log:\n{server.log()}")
        time.sleep(browser.POLL_S)


def failure_screenshot(driver) -> None:
    """The page as it was when the running test failed: artifacts/browser/failed-<test id>.png."""
    test_id = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split("::")[-1].split(" ")[0]
    file_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_id).strip("-")
    driver.save_screenshot(os.path.join(ARTIFACTS, f"failed-{file_name}.png"))


def wait_for_images(driver) -> None:
    """Every <img> on the page has loaded; fails if one is broken."""
    deadline = time.perf_counter() + IMAGES_TIMEOUT_S
    images = driver.execute_script(IMAGES_STATE_JS)
    while images["loading"] and time.perf_counter() < deadline:
        time.sleep(browser.POLL_S)
        images = driver.execute_script(IMAGES_STATE_JS)
    assert images == {"loading": 0, "broken": 0}, f"images still loading or broken: {images}"


def screenshot(driver, name: str) -> str:
    """A PNG of the whole page (main area and sidebar unscrolled) in artifacts/browser/."""
    wait_for_images(driver)
    # The pointer rests where the last click was: park it in the empty top-left corner, off every hover effect.
    parking = ActionBuilder(driver)
    parking.pointer_action.move_to_location(1, 1)
    parking.perform()
    window = driver.get_window_size()
    heights = driver.execute_script(CONTENT_HEIGHT_JS)
    extra = min(heights["content"], SCREENSHOT_MAX_HEIGHT) - heights["visible"]
    path = os.path.join(ARTIFACTS, f"{name}.png")
    try:
        if extra > 0:
            driver.set_window_size(window["width"], window["height"] + extra)
            time.sleep(0.5)  # let charts and columns lay out at the new height
            wait_for_images(driver)
        driver.save_screenshot(path)
    finally:
        driver.set_window_size(window["width"], window["height"])
    return path


def open_app(driver, server) -> dict:
    """A new session on the default page (Predictions for the default sample)."""
    driver.get(server.url + "/")
    return wait_for(driver, server, "the first page", browser.predictions_visible)


def nav_link(driver, title: str):
    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
    matching = [link for link in links if link.text.splitlines()[-1:] == [title]]  # the icon's name comes first
    assert matching, f"no sidebar link {title!r} among {[link.text for link in links]}"
    return matching[0]


def page_address(driver) -> str:
    """The browser's URL without its query string, which holds the page's settings (ui/links.py)."""
    return driver.current_url.split("?")[0]


def go_to(driver, server, page: Page) -> None:
    """Follow the sidebar link to ``page`` and wait for its heading."""
    nav_link(driver, page.title).click()
    wait_for(driver, server, f"the {page.title} page", lambda state: page.title in state["titles"])
    assert page_address(driver) == f"{server.url}/{page.url_path}"


def buttons_starting(driver, label_prefix: str) -> list:
    """The buttons (and download buttons) on the page whose label starts with ``label_prefix``, faded ones too."""
    xpath = (f'//*[@data-testid="stButton" or @data-testid="stDownloadButton"]'
             f'//button[starts-with(normalize-space(), "{label_prefix}")]')
    return driver.find_elements(By.XPATH, xpath)


def click_button(driver, label_prefix: str) -> None:
    buttons = buttons_starting(driver, label_prefix)
    assert len(buttons) == 1, f"expected one button starting {label_prefix!r}, found {len(buttons)}"
    buttons[0].click()


def stop_button_shown(driver, server, page: Page) -> bool:
    """After pressing the page's run button: True once Stop shows, False if the run ends first."""
    deadline = time.perf_counter() + RESULT_TIMEOUT_S
    while time.perf_counter() < deadline:
        server.check_alive()
        if buttons_starting(driver, "Stop"):
            return True
        state = browser.page_state(driver)
        if state["script_state"] == "notRunning" and page.result(state):
            return False
        time.sleep(browser.POLL_S / 2)
    return False  # wait_for reports what the page shows


def slider_to_minimum(driver, server, label: str) -> None:
    """Move the main area's slider ``label`` to its minimum with the keyboard, as a user can."""
    xpath = f'//*[@data-testid="stMain"]//*[@data-testid="stSlider"]//input[@type="range"][@aria-label="{label}"]'
    sliders = driver.find_elements(By.XPATH, xpath)
    assert len(sliders) == 1, f"expected one slider {label!r}, found {len(sliders)}"
    slider = sliders[0]
    driver.execute_script("arguments[0].focus();", slider)  # the range input itself is visually hidden
    ActionChains(driver).send_keys(Keys.HOME).perform()
    minimum = slider.get_attribute("min")
    WebDriverWait(driver, PAGE_TIMEOUT_S).until(lambda _: slider.get_attribute("value") == minimum)
    wait_for_rerun(driver, server, f"the page after moving {label} to {minimum}")


def wait_for_rerun(driver, server, what) -> dict:
    """The page state after the script run that a widget change starts (if it is seen starting)."""
    deadline = time.perf_counter() + RERUN_START_S
    while browser.page_state(driver)["script_state"] == "notRunning" and time.perf_counter() < deadline:
        time.sleep(browser.POLL_S / 2)
    return wait_for(driver, server, what, lambda state: True)


def open_expander(driver, label: str) -> None:
    summary = driver.find_element(
        By.XPATH, f'//*[@data-testid="stExpander"]//summary[.//*[normalize-space()="{label}"]]'
    )
    summary.click()


def wait_for_download(directory, pattern: str) -> str:
    """The path of the finished download whose name matches ``pattern`` (fnmatch), once Chromium has saved it."""
    deadline = time.perf_counter() + DOWNLOAD_TIMEOUT_S
    while time.perf_counter() < deadline:
        names = os.listdir(directory)
        matching = fnmatch.filter(names, pattern)
        if matching and not fnmatch.filter(names, "*.crdownload"):
            return os.path.join(directory, matching[0])
        time.sleep(browser.POLL_S)
    pytest.fail(f"no {pattern} downloaded within {DOWNLOAD_TIMEOUT_S} s; {directory} holds {os.listdir(directory)}")


# Every dialog the page opens, recorded from the first byte of every document the browser loads:
# Streamlit's "Page not found" notice is a dialog, and may close again before a poll would see it.
RECORD_DIALOGS_JS = """
window.vizcoreDialogs = [];
new MutationObserver(() => {
  for (const dialog of document.querySelectorAll('[role="dialog"]')) {
    if (!window.vizcoreDialogs.includes(dialog.textContent)) window.vizcoreDialogs.push(dialog.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
NAV_TITLES = [page.title for page in PAGES]


@pytest.fixture(scope="module")
def dialog_recording_driver(artifacts):
    chromium, profile_dir = browser.new_browser()
    chromium.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_DIALOGS_JS})
    yield chromium
    browser.close_browser(chromium, profile_dir)


@pytest.mark.parametrize("page", PAGES, ids=[page.url_path or "predictions" for page in PAGES])
def test_a_page_url_as_a_new_servers_first_request_shows_that_page(dialog_recording_driver, tmp_path, page):
    """A server process's first script run goes through Streamlit's legacy pages-folder runner (ui/navigation.py)."""
    driver = dialog_recording_driver
    with running_server(str(tmp_path / "server.log")) as fresh:
        driver.get(f"{fresh.url}/{page.url_path}")
        # The page's heading under the app's navigation and sidebar (its image); not the page's result,
        # which can take minutes.
        state = wait_for(
            driver, fresh, f"{page.title} as the first request",
            lambda s: page.title in s["titles"] and s["nav"] == NAV_TITLES
            and any(caption.startswith("sample:chelsea") for caption in s["image_captions"]),
            finished=False,
        )
        assert driver.execute_script("return window.vizcoreDialogs;") == []  # no "Page not found" on the way
        assert page_address(driver) == f"{fresh.url}/{page.url_path}"
        assert state["titles"] == [page.title]
        screenshot(driver, f"first-request-{page.url_path or 'predictions'}")
    log = (tmp_path / "server.log").read_text()  # what a user starting the server reads
    assert "vizcore computes on: CPU (no GPU found)" in log or "vizcore computes on: GPU" in log, log
    assert "cuInit" not in log and "external IP" not in log and "Traceback" not in log, log
    assert not any(notice in log for notice in TENSORFLOW_IMPORT_LINES), log


@pytest.mark.parametrize("page", PAGES, ids=[page.url_path or "predictions" for page in PAGES])
def test_page_shows_its_result(driver, server, page):
    open_app(driver, server)
    if page.url_path:
        go_to(driver, server, page)
    if page.run_button:
        if page.settings_expander:
            open_expander(driver, page.settings_expander)
        slider_to_minimum(driver, server, page.steps_slider)
        screenshot(driver, f"{page.url_path}-before-run")
        click_button(driver, page.run_button)
        if stop_button_shown(driver, server, page):  # the run is still going (a short one may finish first)
            assert not buttons_starting(driver, page.run_button), f"{page.run_button} is still shown beside Stop"
            driver.save_screenshot(os.path.join(ARTIFACTS, f"{page.url_path}-running.png"))
    state = wait_for(driver, server, f"the {page.title} result", page.result, RESULT_TIMEOUT_S)
    assert page.title in state["titles"]
    screenshot(driver, page.url_path or "predictions")


def sample_picker(driver):
    return driver.find_element(
        By.CSS_SELECTOR, '[data-testid="stSidebar"] input[role="combobox"][aria-label="Sample photo"]'
    )


def test_choosing_another_sample_changes_the_predictions(driver, server):
    open_app(driver, server)
    sample_picker(driver).click()
    option = WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        lambda d: d.find_element(By.XPATH, '//*[@role="option"][normalize-space()="coffee"]')
    )
    option.click()
    state = wait_for(driver, server, "predictions for coffee", lambda s: any(COFFEE_CLASS in t for t in s["chart"]))
    assert not any(cat in text for text in state["chart"] for cat in browser.CAT_CLASSES), state["chart"]
    assert any(caption.startswith("sample:coffee") for caption in state["image_captions"]), state["image_captions"]
    screenshot(driver, "sample-coffee")

    # The choice survives a page switch.
    go_to(driver, server, PAGES_BY_TITLE["Activation explorer"])
    state = wait_for(driver, server, "the coffee activations", PAGES_BY_TITLE["Activation explorer"].result)
    assert any(caption.startswith("sample:coffee") for caption in state["image_captions"]), state["image_captions"]
    assert sample_picker(driver).get_attribute("value") == "coffee"


def test_an_uploaded_image_is_used(driver, server, tmp_path):
    upload_path = str(tmp_path / UPLOAD_FILE_NAME)
    Image.fromarray(vizcore.load_sample(UPLOAD_SAMPLE)).save(upload_path, quality=92)
    open_app(driver, server)
    driver.find_element(
        By.XPATH, '//*[@data-testid="stSidebar"]//label[@data-testid="stRadioOption"][normalize-space()="Upload"]'
    ).click()
    image_file_input = (
        '//*[@data-testid="stSidebar"]//*[@data-testid="stFileUploader"][.//label[normalize-space()="Image file"]]'
        '//input[@type="file"]'
    )  # the sidebar may hold other uploaders (a model file) as well
    file_input = WebDriverWait(driver, PAGE_TIMEOUT_S).until(lambda d: d.find_element(By.XPATH, image_file_input))
    file_input.send_keys(upload_path)
    state = wait_for(
        driver, server, "predictions for the uploaded file",
        lambda s: any(c.startswith(f"{UPLOAD_FILE_NAME} · ") for c in s["image_captions"])
        and any(label in text for text in s["chart"] for label in UPLOAD_CLASSES),
    )
    assert not any(cat in text for text in state["chart"] for cat in browser.CAT_CLASSES), state["chart"]
    screenshot(driver, "upload")


def test_downloads_are_valid_files(driver, server, tmp_path):
    browser.allow_downloads(driver, str(tmp_path))
    open_app(driver, server)
    click_button(driver, "Download CSV")
    with open(wait_for_download(tmp_path, "predictions.csv"), newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["label"] in browser.CAT_CLASSES and rows[0]["image"] == "sample:chelsea"

    click_button(driver, "Download JSON")
    with open(wait_for_download(tmp_path, "predictions.json"), encoding="utf-8") as record_file:
        record = json.load(record_file)
    assert [row["label"] for row in record["predictions"]] == [row["label"] for row in rows]

    # A picture result: the activation grid as a PNG the size of the grid shown on the page.
    go_to(driver, server, PAGES_BY_TITLE["Activation explorer"])
    wait_for(driver, server, "the activation grid", PAGES_BY_TITLE["Activation explorer"].result)
    click_button(driver, "Grid PNG")
    png_path = wait_for_download(tmp_path, "*_grid.png")  # named after the default layer
    with open(png_path, "rb") as png_file:
        assert png_file.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    shown_width = driver.execute_script(
        "return document.querySelector('[data-testid=stMain] [data-testid=stImage] img').naturalWidth;"
    )
    with Image.open(png_path) as grid:
        grid.load()
        assert grid.width == shown_width and grid.height > 0


LINK_LAYER = "stage5_block3_add"  # not the Grad-CAM default (head_relu)
LINK_CLASS = "tabby"  # the sample's third class: not a default of either class picker


def choose_in_main(driver, label: str, option_prefix: str) -> None:
    """Pick the option starting with ``option_prefix`` in the main area's selectbox ``label``, as a user does."""
    picker = WebDriverWait(driver, PAGE_TIMEOUT_S).until(lambda d: d.find_element(
        By.CSS_SELECTOR, f'[data-testid="stMain"] input[role="combobox"][aria-label="{label}"]'))
    picker.click()
    picker.send_keys(option_prefix)  # the list shows only its first options until a search narrows it
    option = WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        lambda d: d.find_element(By.XPATH, f'//*[@role="option"][starts-with(normalize-space(), "{option_prefix}")]'))
    option.click()


def main_combobox_value(driver, label: str) -> str:
    picker = driver.find_element(By.CSS_SELECTOR, f'[data-testid="stMain"] input[role="combobox"][aria-label="{label}"]')
    return picker.get_attribute("value")


def first_map_bytes(driver) -> bytes:
    """The first map picture on the page, as the server sends it."""
    source = driver.execute_script(
        "return document.querySelector('[data-testid=stMain] [data-testid=stImage] img').src;")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(source, timeout=10) as response:
        return response.read()


def test_a_link_opened_in_a_fresh_browser_reopens_a_grad_cam_view(driver, server):
    """The Grad-CAM view with a chosen layer and class travels in its "Copy link" to a browser that never saw it."""
    page = PAGES_BY_TITLE["Grad-CAM"]
    driver.get(f"{server.url}/{page.url_path}")
    # The pickers as soon as they show: the default maps' run gives way to the one for these choices.
    wait_for(driver, server, "the Grad-CAM pickers", lambda state: page.title in state["titles"], finished=False)
    choose_in_main(driver, "Layer", LINK_LAYER)
    choose_in_main(driver, "First class", LINK_CLASS)
    wait_for_rerun(driver, server, "the maps for the chosen layer and class")
    wait_for(driver, server, "the maps for the chosen layer and class", page.result, RESULT_TIMEOUT_S)
    driver.find_element(By.XPATH, '//*[@data-testid="stSidebar"]//*[@data-testid="stPopover"]//button').click()
    link = WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="stPopoverBody"] [data-testid="stCode"] code')).text
    link = "".join(link.split())  # the code box wraps long lines
    assert link == driver.current_url and link.startswith(f"{server.url}/grad-cam?")
    screenshot(driver, "link-copied")
    shown = first_map_bytes(driver)

    fresh, profile_dir = browser.new_browser()  # nothing shared with the first browser: no cookie, no session
    try:
        fresh.get(link)
        state = wait_for(fresh, server, "the Grad-CAM view from the link", page.result, RESULT_TIMEOUT_S)
        assert state["titles"] == ["Grad-CAM"] and not state["errors"]
        assert main_combobox_value(fresh, "Layer") == LINK_LAYER
        assert main_combobox_value(fresh, "First class").startswith(f"{LINK_CLASS} · ")
        assert first_map_bytes(fresh) == shown  # the same map, pixel for pixel
        screenshot(fresh, "link-reopened")
    finally:
        browser.close_browser(fresh, profile_dir)
