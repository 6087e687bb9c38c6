"""Which device TensorFlow computes on, and the one-time GPU setup done before first use.

TensorFlow's Linux build includes CUDA, and the first time it lists devices it calls ``cuInit``.
On a machine with no NVIDIA device that call fails, and TensorFlow logs an error line
("failed call to cuInit: ... UNKNOWN ERROR (303)") straight to file descriptor 2, where a user
reads it as a fault. vizcore lists the devices once, itself, before any other TensorFlow work;
when there is no NVIDIA device node (so the failure is certain and says nothing) it drops that
one line and passes every other line through. With an NVIDIA device the probe runs untouched,
so a broken driver still shows its error.
"""

from __future__ import annotations

import glob
import sys
import threading

import tensorflow as tf

from vizcore.log_lines import without_lines

_configure_lock = threading.Lock()
_configured = False

# Where Linux exposes NVIDIA GPUs: /dev/nvidia0, /dev/nvidiactl... and, under WSL 2, /dev/dxg.
NVIDIA_DEVICE_PATTERNS = ("/dev/nvidia*", "/dev/dxg")
EXPECTED_PROBE_LINE = "failed call to cuInit"


def has_nvidia_device_node() -> bool:
    """True where a CUDA device could exist: an NVIDIA (or WSL GPU) device node, or not Linux."""
    if not sys.platform.startswith("linux"):
        return True  # no device nodes to look at elsewhere; TensorFlow's own probe decides
    return any(glob.glob(pattern) for pattern in NVIDIA_DEVICE_PATTERNS)


def _list_gpus() -> list:
    if has_nvidia_device_node():
        return tf.config.list_physical_devices("GPU")
    with without_lines(EXPECTED_PROBE_LINE):
        return tf.config.list_physical_devices("GPU")


def configure_devices() -> None:
    """List the devices once per process (quietly where no GPU can exist) and turn on GPU memory growth.

    Without memory growth TensorFlow reserves nearly all GPU memory at first use, which starves a
    second process (another app worker or a notebook) on the same card. Call before any other
    TensorFlow work: the first device listing is where TensorFlow probes CUDA.
    """
    global _configured
    with _configure_lock:
        if _configured:
            return
        for gpu in _list_gpus():
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass  # the GPU was already initialised by someone else: its setting stands
        _configured = True


def device_summary() -> str:
    """One line for the sidebar and CLI, e.g. ``GPU: NVIDIA H200`` or ``CPU (no GPU found)``."""
    configure_devices()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU (no GPU found)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return f"GPU: {', '.join(names)}"
