import tensorflow as tf

from vizcore import device


def test_summary_names_the_device_tensorflow_sees():
    device.configure_devices()
    device.configure_devices()  # a second call must be harmless
    summary = device.device_summary()
    if tf.config.list_physical_devices("GPU"):
        assert summary.startswith("GPU: ")
        assert all(tf.config.experimental.get_memory_growth(gpu) for gpu in tf.config.list_physical_devices("GPU"))
    else:
        assert summary == "CPU (no GPU found)"
