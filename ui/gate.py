"""The gate of a hosted server: a shared password, or the login of an OpenID Connect provider.

app.py asks ``unlocked()`` before anything else and, while it is false, draws only ``show_login()``
(which stops the run): no page, no sidebar, no model is loaded. Which gate applies:

- an ``[auth]`` section in Streamlit's secrets (an OIDC provider): ``st.login`` and ``st.user``;
- else a password, from the environment variable ``VIZCORE_PASSWORD`` or the secret ``password``;
- else none: the app is open, as on a laptop.

The password is compared in constant time (``hmac.compare_digest``). Wrong passwords are rate
limited twice over, and while a limit holds an attempt is refused without being compared:

- per session: after ``FREE_FAILURES`` wrong passwords, the next attempt must wait 2 s after the
  last failure, and each further failure doubles the wait (4, 8, 16 ... s, at most
  ``MAX_SESSION_WAIT_S``);
- per server process (all sessions together, since a new browser tab is a new session): after
  ``GLOBAL_FAILURES`` wrong passwords within ``GLOBAL_WINDOW_S``, every session waits until the
  oldest of them leaves the window. This also slows a legitimate user down while someone guesses;
  that is the price of not letting anyone guess fast.

Only imports streamlit and the standard library: it runs before TensorFlow loads.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import threading
import time
from collections import deque

import streamlit as st

PASSWORD_ENV = "VIZCORE_PASSWORD"
PASSWORD_SECRET = "password"
AUTH_SECRET = "auth"
FREE_FAILURES = 3
MAX_SESSION_WAIT_S = 300.0
GLOBAL_FAILURES = 20
GLOBAL_WINDOW_S = 600.0

UNLOCKED = "gate_unlocked"  # session key: a digest of the password this session gave
FAILURES = "gate_failures"  # session key: (wrong passwords so far, monotonic time of the last)
MESSAGE = "gate_message"  # session key: what the last attempt got, shown under the prompt


def _secret(name: str):
    """A top-level Streamlit secret, or None (also when there is no secrets file at all)."""
    try:
        return st.secrets.get(name)
    except Exception:  # Streamlit raises its own error types for a missing or unreadable secrets file
        return None


def password() -> str | None:
    """The operator's password (``VIZCORE_PASSWORD`` first, then the secret ``password``), or None when unset."""
    return os.environ.get(PASSWORD_ENV) or _secret(PASSWORD_SECRET) or None


def uses_login() -> bool:
    """True when Streamlit's secrets configure an OIDC provider (an ``[auth]`` section)."""
    return bool(_secret(AUTH_SECRET))


def _password_digest(secret: str) -> str:
    # The session keeps a digest, not the password; a changed password locks every session again.
    return hashlib.sha256(secret.encode()).hexdigest()


def unlocked() -> bool:
    """Whether this session may see the app: logged in, given the password, or no gate configured."""
    if uses_login():
        return bool(st.user.get("is_logged_in", False))  # absent until Streamlit has read the [auth] section
    secret = password()
    return secret is None or st.session_state.get(UNLOCKED) == _password_digest(secret)


class FailureLog:
    """The wrong passwords of the whole server process within the last ``GLOBAL_WINDOW_S`` (monotonic seconds)."""

    def __init__(self):
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        while self._times and self._times[0] <= now - GLOBAL_WINDOW_S:
            self._times.popleft()

    def add(self, now: float) -> None:
        with self._lock:
            self._forget_old(now)
            self._times.append(now)

    def wait_s(self, now: float) -> float:
        """Seconds until the process takes another attempt (0 while under ``GLOBAL_FAILURES``)."""
        with self._lock:
            self._forget_old(now)
            if len(self._times) < GLOBAL_FAILURES:
                return 0.0
            return self._times[-GLOBAL_FAILURES] + GLOBAL_WINDOW_S - now


@st.cache_resource(show_spinner=False)
def failure_log() -> FailureLog:
    """The process's one FailureLog, shared by every session."""
    return FailureLog()


def _session_wait_s(now: float) -> float:
    failures, last = st.session_state.get(FAILURES, (0, 0.0))
    if failures < FREE_FAILURES:
        return 0.0
    return min(2.0 ** (failures - FREE_FAILURES + 1), MAX_SESSION_WAIT_S) + last - now


def _wait_sentence(seconds: float, whose: str) -> str:
    return f"Too many wrong passwords {whose}: try again in {math.ceil(seconds)} s."


def _try_password(given: str) -> None:
    """Check ``given`` unless a rate limit holds; unlock the session, or record the failure and say why."""
    secret = password()
    now = time.monotonic()
    session_wait, global_wait = _session_wait_s(now), failure_log().wait_s(now)
    if session_wait > 0:
        st.session_state[MESSAGE] = _wait_sentence(session_wait, "from this browser tab")
        return
    if global_wait > 0:
        st.session_state[MESSAGE] = _wait_sentence(global_wait, "on this server")
        return
    if secret is not None and hmac.compare_digest(given.encode(), secret.encode()):
        st.session_state[UNLOCKED] = _password_digest(secret)
        st.session_state.pop(FAILURES, None)
        st.session_state.pop(MESSAGE, None)
        return
    failures = st.session_state.get(FAILURES, (0, 0.0))[0] + 1
    st.session_state[FAILURES] = (failures, now)
    failure_log().add(now)
    st.session_state[MESSAGE] = "That password is not right."


def show_login() -> None:
    """Draw the gate (the password prompt, or the provider's login button) and stop the run."""
    st.title("vizcore")
    if uses_login():
        st.markdown("This server is private: log in to use it.")
        if st.button("Log in", key="gate_login", type="primary"):
            st.login()  # the provider's page; Streamlit brings the visitor back here, logged in
        st.stop()
    st.markdown("This server is private: enter its password to use it.")
    with st.form("gate_form", enter_to_submit=True):
        given = st.text_input("Password", type="password", key="gate_password")
        submitted = st.form_submit_button("Enter", type="primary")
    if submitted:
        _try_password(given)
        if unlocked():
            st.rerun()  # the app, at the URL (page and link) the visitor asked for
    if MESSAGE in st.session_state:
        st.error(st.session_state[MESSAGE])
    st.stop()
