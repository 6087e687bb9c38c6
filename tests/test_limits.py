"""The caps on long work come from the environment of whoever runs vizcore."""

import os
import subprocess
import sys

import pytest

READ_LIMITS = "import vizcore.limits as l; print(l.MAX_SECONDS, l.MAX_STEPS, l.MAX_DREAM_PIXELS)"


def read_limits(**environment):
    env = {key: value for key, value in os.environ.items() if not key.startswith("VIZCORE_MAX_")}
    env.update(environment)
    return subprocess.run([sys.executable, "-c", READ_LIMITS], capture_output=True, text=True, env=env, cwd=os.getcwd())


def test_defaults_without_settings():
    assert read_limits().stdout.split() == ["600.0", "2000", "1048576"]


def test_each_cap_follows_its_variable():
    result = read_limits(VIZCORE_MAX_SECONDS="30", VIZCORE_MAX_STEPS="150", VIZCORE_MAX_DREAM_MEGAPIXELS="0.25")
    assert result.stdout.split() == ["30.0", "150", "250000"]


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan"])
def test_a_bad_setting_is_one_sentence(value):
    result = read_limits(VIZCORE_MAX_SECONDS=value)
    assert result.returncode != 0
    assert f"VIZCORE_MAX_SECONDS must be a number above 0, not '{value}'." in result.stderr
