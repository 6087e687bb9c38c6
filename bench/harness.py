"""What the benchmark scripts share: the record of the machine a run measured, quiet Streamlit
logging, and a copy of a model that takes any input size (for the tutorials' baselines)."""

import logging
import os
import platform

QUIET_LOGGERS = (
    "streamlit",
    "streamlit.runtime.caching.cache_data_api",
    "streamlit.runtime.scriptrunner_utils.script_run_context",
)


def load_average() -> float:
    """The 1-minute load average: other work on the machine skews every timing."""
    return round(os.getloadavg()[0], 2)


def run_environment(load_at_start: float) -> dict:
    """Device, versions, cores and load, for the top of every benchmark's JSON."""
    import tensorflow as tf

    from vizcore.device import device_summary

    return {
        "device": device_summary(),
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": load_at_start,
    }


def silence_streamlit() -> None:
    """Bare-mode cache calls warn about a missing ScriptRunContext; harmless here."""
    import streamlit  # noqa: F401  (configures its loggers on import)

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def any_size_copy(keras_model, input_shape=(None, None, 3)):
    """The same network and weights on a new input (any size by default): a plain Keras clone, nothing folded."""
    import keras

    copy = keras.models.clone_model(keras_model, input_tensors=keras.Input(input_shape))
    copy.set_weights(keras_model.get_weights())
    return copy
