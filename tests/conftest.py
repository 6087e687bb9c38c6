"""Shared fixtures: the embedded model (converted once per run) and the bundled sample photos."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Converted weights go to a throwaway folder unless the caller (CI) names a persistent one.
os.environ.setdefault("VIZCORE_CACHE_DIR", tempfile.mkdtemp(prefix="vizcore-test-cache-"))

import pytest  # noqa: E402

import vizcore  # noqa: E402


@pytest.fixture(scope="session")
def embedded_model():
    return vizcore.load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def chelsea():
    return vizcore.load_sample("chelsea")


@pytest.fixture(scope="session")
def coffee():
    return vizcore.load_sample("coffee")
