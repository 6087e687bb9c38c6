"""The gate of a hosted server (ui/gate.py), as a visitor meets it: through AppTest on app.py."""

import os

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from ui import gate

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "app.py")
PASSWORD = "correct horse battery staple"


@pytest.fixture
def clock(monkeypatch):
    """The gate's monotonic clock, moved by hand; the process's failure log starts empty."""
    now = [1000.0]
    monkeypatch.setattr(gate.time, "monotonic", lambda: now[0])
    gate.failure_log.clear()
    yield now
    gate.failure_log.clear()


@pytest.fixture
def password_set(monkeypatch, clock):
    monkeypatch.setenv(gate.PASSWORD_ENV, PASSWORD)
    return clock


def locked_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=180).run()


def try_password(at: AppTest, given: str) -> AppTest:
    at.text_input(key="gate_password").input(given)
    return at.button[0].click().run()  # the form's Enter


def assert_only_the_prompt(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [title.value for title in at.title] == ["vizcore"]
    assert [box.label for box in at.text_input] == ["Password"]
    assert not at.sidebar.selectbox and not at.get("plotly_chart")  # no sidebar, no page


def test_wrong_password_keeps_the_prompt_and_the_right_one_opens_the_app(password_set):
    at = locked_app()
    assert_only_the_prompt(at)
    try_password(at, "correct horse")
    assert_only_the_prompt(at)
    assert at.error[0].value == "That password is not right."
    try_password(at, PASSWORD)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Predictions"
    assert at.sidebar.selectbox(key="model_choice").value == "efficientnet_lite0"
    assert not at.text_input  # the prompt is gone
    at.run()
    assert at.title[0].value == "Predictions"  # and stays gone


def test_a_streamlit_secret_sets_the_password_too(clock):
    at = AppTest.from_file(APP, default_timeout=180)
    at.secrets["password"] = PASSWORD
    at.run()
    assert_only_the_prompt(at)
    try_password(at, PASSWORD)
    assert at.title[0].value == "Predictions"


def test_failures_are_rate_limited_per_session_and_per_server(password_set, monkeypatch):
    clock = password_set
    at = locked_app()
    for _ in range(gate.FREE_FAILURES):
        try_password(at, "guess")
        assert at.error[0].value == "That password is not right."
    try_password(at, PASSWORD)  # refused without being compared while the wait runs
    assert_only_the_prompt(at)
    assert at.error[0].value == "Too many wrong passwords from this browser tab: try again in 2 s."
    clock[0] += 2.0
    try_password(at, "guess again")  # the fourth failure doubles the wait
    try_password(at, PASSWORD)
    assert at.error[0].value == "Too many wrong passwords from this browser tab: try again in 4 s."
    clock[0] += 4.0
    try_password(at, PASSWORD)
    assert at.title[0].value == "Predictions"

    # Across sessions: a new visitor waits once the whole server has seen GLOBAL_FAILURES failures.
    gate.failure_log.clear()
    monkeypatch.setattr(gate, "GLOBAL_FAILURES", 2)
    guesser = locked_app()
    try_password(guesser, "one")
    try_password(guesser, "two")
    newcomer = locked_app()
    try_password(newcomer, PASSWORD)
    assert_only_the_prompt(newcomer)
    assert newcomer.error[0].value == f"Too many wrong passwords on this server: try again in {gate.GLOBAL_WINDOW_S:.0f} s."
    clock[0] += gate.GLOBAL_WINDOW_S
    try_password(newcomer, PASSWORD)
    assert newcomer.title[0].value == "Predictions"


def test_an_oidc_provider_in_secrets_asks_for_its_login_instead(password_set, monkeypatch):
    at = AppTest.from_file(APP, default_timeout=180)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "vizcore", "client_secret": "s",
                          "server_metadata_url": "https://login.example.org/.well-known/openid-configuration"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [button.label for button in at.button] == ["Log in"]
    assert not at.text_input and not at.sidebar.selectbox  # no password prompt, no app
    monkeypatch.setattr(streamlit, "user", {"is_logged_in": True})  # back from the provider, logged in
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Predictions"
    assert "Log in" not in [button.label for button in at.button]


def test_without_a_password_the_app_is_open(monkeypatch, clock):
    monkeypatch.delenv(gate.PASSWORD_ENV, raising=False)
    at = locked_app()
    assert at.title[0].value == "Predictions" and not at.text_input
