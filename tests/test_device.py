import os
import subprocess
import sys

import tensorflow as tf

from vizcore import device
from vizcore.log_lines import without_lines


def test_summary_names_the_device_tensorflow_sees():
    device.configure_devices()
    device.configure_devices()  # a second call must be harmless
    summary = device.device_summary()
    if tf.config.list_physical_devices("GPU"):
        assert summary.startswith("GPU: ")
        assert all(tf.config.experimental.get_memory_growth(gpu) for gpu in tf.config.list_physical_devices("GPU"))
    else:
        assert summary == "CPU (no GPU found)"


def test_no_cuinit_error_line_where_no_gpu_can_exist():
    # TensorFlow's Linux build probes CUDA on its first device listing; without an NVIDIA device that
    # logs "failed call to cuInit ... UNKNOWN ERROR (303)", which a user reads as a fault.
    script = (
        "from vizcore.device import device_summary\n"
        "print(device_summary())\n"
        "import tensorflow as tf\n"
        "print(int(tf.constant(1) + 1))\n"  # later TensorFlow work does not probe again
    )
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # the log level users get
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2"
    assert "cuInit" not in result.stderr, result.stderr
    if not device.has_nvidia_device_node():
        assert result.stdout.splitlines()[0] == "CPU (no GPU found)"


def test_only_the_expected_probe_line_is_dropped(capfd):
    with without_lines(device.EXPECTED_PROBE_LINE):
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error (303)\n")
        os.write(2, b"E0000 some_other.cc:1] a real problem\n")
    assert capfd.readouterr().err == "E0000 some_other.cc:1] a real problem\n"
