"""Claim (issue #3): the filter gallery renders 16 channels as one batch at least 8x faster than one at a time.

Subject: ``vizcore.filters.visualise_filters`` on the embedded EfficientNet-Lite0, the model's first
gallery preset (``spec.presets.gallery[0]``: ``stage4_block3_add``, channels 0-15), all 16 images in
one batch: one traced step per iteration renders the batch from its parameters, applies the
transforms, runs the (batch-norm-folded) feature model forward and backward and takes an Adam
step. The wall time of the whole call is counted, including its two extra forward passes that
measure every image's activation before and after.

Baseline: the keras.io example "Visualizing what convnets learn" (fchollet), faithfully: a plain
``keras.Model(model.inputs, layer.output)`` feature extractor, the loss is the mean of one channel
without a 2-unit border, a module-level ``@tf.function gradient_ascent_step`` takes the gradient,
L2-normalises it and adds it times learning rate 10; the image starts grey plus uniform noise
(+-0.125 in model space) and the 16 filters are rendered one after another, then deprocessed
(centred, std 0.15, clipped, uint8, no crop). Same model, layer, channels, image size and number of
steps. The embedded model's input is fixed at 224 px, so both sides use a copy that accepts any
size (the baseline a plain ``keras.models.clone_model`` with the same weights, batch norms kept;
the keras.io model, ResNet50V2 with ``include_top=False``, accepts any size as well). One
deviation in the baseline's favour: the channel index and learning rate are passed as tensors, so
the step traces once; keras.io passes Python numbers and so retraces for every filter.

What vizcore does per step that the baseline does not (so its images are better, not just faster):
a Fourier parameterisation with decorrelated colour (an inverse 2-D FFT and a colour mixing per
image), four random robustness transforms (jitter, scale, rotate, jitter) composed into one
bilinear resampling, a sigmoid to 0..1, and Adam instead of a plain normalised step. Both sides
are traced and run untimed first; then ``--repeats`` rounds alternate a vizcore gallery and a
baseline gallery, and the medians are reported, so drift in machine load hits both alike.

Output: one JSON object with images per second of each side (16 images / median wall seconds of
the whole gallery), ``throughput_ratio`` = vizcore / baseline (target at least 8), the same ratio
in process CPU time (``throughput_ratio_in_cpu_time``, less swayed by other work on a shared
machine), the time per step of each (one vizcore step renders 16 images, one baseline step 1
image), the channels' mean activation on each side's final images, measured the same way (a
sanity check that both optimised; not a quality comparison), and why the ratio is bounded on a
CPU.

Run: ``cd /work/main && .venv/bin/python bench/filters.py [--steps N] [--size PX] [--channels K] [--repeats R]``
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import any_size_copy, load_average, run_environment  # noqa: E402  (bench/harness.py)

MODEL_NAME = "efficientnet_lite0"
DEFAULT_STEPS = 30  # keras.io's iterations
DEFAULT_SIZE = 128  # vizcore's default gallery size (keras.io uses 180)
DEFAULT_CHANNELS = 16
DEFAULT_REPEATS = 3  # rounds of (vizcore gallery, baseline gallery), interleaved so load drift hits both
SEED = 0
TARGET_RATIO = 8.0
WARMUP_STEPS = 2

# keras.io recipe constants
BASELINE_LEARNING_RATE = 10.0
BASELINE_NOISE = 0.25  # uniform noise of this width around grey, in model space
BASELINE_BORDER = 2  # feature-map units left out of the loss on each side
BASELINE_DISPLAY_STD = 0.15


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="gradient steps per image, both sides")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="image side in px, both sides")
    parser.add_argument("--channels", type=int, default=DEFAULT_CHANNELS, help="first K channels of the preset's range")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="interleaved rounds; medians are reported")
    return parser.parse_args()



class KerasIoFilters:
    """keras.io "Visualizing what convnets learn", one filter after another."""

    def __init__(self, keras_model, layer_name, size, steps):
        import keras
        import tensorflow as tf

        model = any_size_copy(keras_model)
        self.feature_extractor = keras.Model(inputs=model.inputs, outputs=model.get_layer(name=layer_name).output)
        self.size, self.steps = size, steps
        self.learning_rate = tf.constant(BASELINE_LEARNING_RATE)
        feature_extractor = self.feature_extractor

        def compute_loss(input_image, filter_index):
            activation = feature_extractor(input_image)
            border = BASELINE_BORDER
            filter_activation = activation[:, border:-border, border:-border, filter_index]
            return tf.reduce_mean(filter_activation)

        @tf.function
        def gradient_ascent_step(img, filter_index, learning_rate):
            with tf.GradientTape() as tape:
                tape.watch(img)
                loss = compute_loss(img, filter_index)
            grads = tape.gradient(loss, img)
            grads = tf.math.l2_normalize(grads)
            img += learning_rate * grads
            return loss, img

        self.gradient_ascent_step = gradient_ascent_step

    def initialize_image(self, rng):
        import tensorflow as tf

        img = rng.uniform(size=(1, self.size, self.size, 3)).astype(np.float32)
        return tf.constant((img - 0.5) * BASELINE_NOISE)

    def visualize_filter(self, filter_index, rng, steps=None):
        import tensorflow as tf

        img = self.initialize_image(rng)
        index = tf.constant(filter_index, tf.int32)
        for _ in range(steps or self.steps):
            loss, img = self.gradient_ascent_step(img, index, self.learning_rate)
        return float(loss), img[0].numpy()


def deprocess_image(img):
    """keras.io's display step (without its 25 px crop, so both sides keep the full image)."""
    img = img - img.mean()
    img /= img.std() + 1e-5
    img *= BASELINE_DISPLAY_STD
    img += 0.5
    return np.clip(img * 255, 0, 255).astype("uint8")


def run_baseline(baseline, channels, steps):
    """(uint8 images, wall seconds, per-step seconds) for the filters rendered one after another."""
    rng = np.random.default_rng(SEED)
    images, step_seconds = [], []
    start = time.perf_counter()
    for channel in channels:
        step_start = time.perf_counter()
        _, img = baseline.visualize_filter(channel, rng, steps)
        step_seconds.append((time.perf_counter() - step_start) / steps)
        images.append(deprocess_image(img))
    return np.stack(images), time.perf_counter() - start, float(np.median(step_seconds))


def channel_activations(loaded, layer, images, channels):
    from vizcore.filters import unit_activations

    return unit_activations(loaded, layer, images)[np.arange(len(channels)), channels]


def main():
    args = parse_args()
    load_at_start = load_average()

    import vizcore
    from vizcore import filters

    loaded = vizcore.load_model(MODEL_NAME)
    layer, channel_text = loaded.spec.presets.gallery[0]
    channels = filters.parse_channels(channel_text, filters.layer_channel_count(loaded, layer))[: args.channels]
    settings = filters.FilterSettings(steps=args.steps, size=args.size, seed=SEED)

    # Untimed warm-ups: both sides trace their step once.
    warmup = filters.FilterSettings(steps=WARMUP_STEPS, size=args.size, seed=SEED)
    filters.visualise_filters(loaded, layer, channels, warmup)
    baseline = KerasIoFilters(loaded.keras_model, layer, args.size, args.steps)
    baseline.visualize_filter(channels[0], np.random.default_rng(SEED), WARMUP_STEPS)

    vizcore_walls, vizcore_steps, vizcore_cpu, baseline_walls, baseline_steps, baseline_cpu = [], [], [], [], [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        gallery = filters.visualise_filters(loaded, layer, channels, settings)
        vizcore_walls.append(time.perf_counter() - start)
        vizcore_cpu.append(time.process_time() - cpu_start)
        vizcore_steps.append(gallery.seconds / max(gallery.steps_done, 1))
        cpu_start = time.process_time()
        baseline_images, seconds, step = run_baseline(baseline, channels, args.steps)
        baseline_cpu.append(time.process_time() - cpu_start)
        baseline_walls.append(seconds)
        baseline_steps.append(step)
    vizcore_seconds, baseline_seconds = float(np.median(vizcore_walls)), float(np.median(baseline_walls))

    count = len(channels)
    vizcore_rate = count / vizcore_seconds
    baseline_rate = count / baseline_seconds
    ratio = vizcore_rate / baseline_rate
    vizcore_final = channel_activations(loaded, layer, gallery.images, channels)
    baseline_final = channel_activations(loaded, layer, baseline_images, channels)
    report = {
        "claim": "filter gallery: 16 channels rendered as one batch vs keras.io's one-filter-at-a-time loop",
        "model": MODEL_NAME,
        **run_environment(load_at_start),
        "layer": layer,
        "channels": channels,
        "steps": args.steps,
        "size_px": args.size,
        "rounds": args.repeats,
        "vizcore": {
            "wall_seconds": round(vizcore_seconds, 3),
            "images_per_second": round(vizcore_rate, 3),
            "step_ms": round(float(np.median(vizcore_steps)) * 1000.0, 2),
            "wall_seconds_per_round": [round(value, 3) for value in vizcore_walls],
            "cpu_seconds": round(float(np.median(vizcore_cpu)), 3),
            "images_per_step": count,
            "mean_final_activation": round(float(np.mean(vizcore_final)), 4),
            "per_step_extras": [
                "Fourier parameterisation with decorrelated colour (inverse 2-D FFT per image)",
                "4 random transforms (jitter 8, scale 0.9-1.1, rotate 10 deg, jitter 4) in one bilinear resampling",
                "sigmoid to 0..1 and an Adam update",
            ],
            "outside_the_steps": "two forward passes measuring each image's activation (counted in wall_seconds)",
        },
        "baseline_keras_io": {
            "wall_seconds": round(baseline_seconds, 3),
            "images_per_second": round(baseline_rate, 3),
            "step_ms": round(float(np.median(baseline_steps)) * 1000.0, 2),
            "wall_seconds_per_round": [round(value, 3) for value in baseline_walls],
            "cpu_seconds": round(float(np.median(baseline_cpu)), 3),
            "images_per_step": 1,
            "mean_final_activation": round(float(np.mean(baseline_final)), 4),
            "recipe": "plain sub-model, channel mean less a 2-unit border, L2-normalised gradient x 10, grey + noise",
        },
        "throughput_ratio": round(ratio, 2),
        "throughput_ratio_in_cpu_time": round(float(np.median(baseline_cpu)) / float(np.median(vizcore_cpu)), 2),
        "target_ratio": TARGET_RATIO,
        "meets_target": bool(ratio >= TARGET_RATIO),
        "why_the_ratio_is_bounded": (
            "On a CPU one 128 px image already keeps the cores busy: batching 16 saves per-call overhead and "
            "makes each convolution more efficient, but the feature model's forward and backward still cost "
            "roughly in proportion to the number of images, and they are most of a vizcore step (the rest is "
            "the Fourier parameterisation and the transforms the baseline skips). A ratio near the batch size "
            "needs hardware that one small image leaves mostly idle, such as a GPU."
        ),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
