"""Which device TensorFlow computes on, and the one-time GPU setup done before first use."""

from __future__ import annotations

import threading

import tensorflow as tf

_configure_lock = threading.Lock()
_configured = False


def configure_devices() -> None:
    """Turn on memory growth for every GPU, once per process, before any op touches a GPU.

    Without it TensorFlow reserves nearly all GPU memory at first use, which starves a second
    process (another app worker or a notebook) on the same card.
    """
    global _configured
    with _configure_lock:
        if _configured:
            return
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass  # the GPU was already initialised by someone else: its setting stands
        _configured = True


def device_summary() -> str:
    """One line for the sidebar and CLI, e.g. ``GPU: /physical_device:GPU:0 (memory growth on)``."""
    configure_devices()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU (no GPU found)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return f"GPU: {', '.join(names)}"
