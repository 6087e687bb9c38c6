import os
import subprocess
import sys

from vizcore.log_lines import TENSORFLOW_IMPORT_LINES, without_lines

IMPORT_QUIETLY = (
    "from vizcore.log_lines import TENSORFLOW_IMPORT_LINES, without_lines\n"
    "with without_lines(*TENSORFLOW_IMPORT_LINES):\n"
    "    import tensorflow\n"
)


def _stderr_of(script: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # the level users get
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_tensorflows_import_notices_stay_out_of_the_log():
    plain = _stderr_of("import tensorflow\n")
    assert any(line in plain for line in TENSORFLOW_IMPORT_LINES), plain  # this build does print them
    quiet = _stderr_of(IMPORT_QUIETLY)
    assert not any(line in quiet for line in TENSORFLOW_IMPORT_LINES), quiet


def test_every_other_line_is_written_back(capfd):
    with without_lines(*TENSORFLOW_IMPORT_LINES):
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. You may see...\n")
        os.write(2, b"E0000 some_other.cc:1] a real problem\n")
    assert capfd.readouterr().err == "E0000 some_other.cc:1] a real problem\n"
