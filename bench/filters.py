"""Claims: the filter gallery renders 16 channels as one batch at least 8x faster than one at a time
(issue #3), and its default recipe reaches the former recipe's quality in at most half the time (issue #14).

Part 1, batching (issue #3).

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

The vizcore side of part 1 renders every step at full size (``coarse_share=0``), so both sides do
the same work per step; the progressive default is part 2's subject.

Part 2, time to quality (issue #14). Baseline: the former default recipe, 256 full-size steps
(``former_recipe``: Fourier decay 1, every step at 128 px with the full transforms). Subject: the
default ``FilterSettings()`` (128 steps: 80 on a half-size tile of a 2 x 2-periodic image, 48 at
full size with gentler transforms after a learning-rate warm-up). Same model,
preset, channels, size and seed. Each run previews its images every ``--every`` steps; the time of
each preview is recorded (wall and process CPU, less the time spent taking previews), and after
the run each preview's activations are measured (the objective's unit on the uint8 image, no
transforms). A channel's reference is the baseline run's final activation; the time to quality
is the first preview at which EVERY channel has reached ``QUALITY_SHARE`` (90%) of its
reference. Reported: both times, ``time_to_quality_ratio`` = subject / baseline (target at most
0.5, in wall and in CPU time), each run's whole duration, the per-channel activation of the
subject's final images over the reference, and simple image statistics (contrast, clipped
pixels) to go with the grids that ``--grids DIR`` saves as PNG. Rounds alternate the two runs.

Run: ``cd /work/main && .venv/bin/python bench/filters.py [--steps N] [--size PX] [--channels K] [--repeats R]
[--rounds R] [--every N] [--grids DIR] [--part batching|quality|both]``
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
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
QUALITY_SHARE = 0.9  # of the baseline's final activation, per channel
TARGET_TIME_TO_QUALITY_RATIO = 0.5
DEFAULT_ROUNDS = 1  # of (baseline run, default run) for part 2
DEFAULT_EVERY = 8  # steps between the previews whose activations are measured

# keras.io recipe constants
BASELINE_LEARNING_RATE = 10.0
BASELINE_NOISE = 0.25  # uniform noise of this width around grey, in model space
BASELINE_BORDER = 2  # feature-map units left out of the loss on each side
BASELINE_DISPLAY_STD = 0.15


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="part 1: gradient steps per image, both sides")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="image side in px, both sides, both parts")
    parser.add_argument("--channels", type=int, default=DEFAULT_CHANNELS, help="first K channels of the preset's range")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="part 1: interleaved rounds; medians are reported")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="part 2: interleaved rounds; medians are reported")
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY, help="part 2: steps between measured previews")
    parser.add_argument("--grids", default=None, metavar="DIR", help="part 2: save both recipes' final grids as PNG here")
    parser.add_argument("--part", choices=("batching", "quality", "both"), default="both", help="which claim to measure")
    return parser.parse_args(argv)


def former_recipe(size):
    """The default recipe before issue #14: 256 steps, all at full size, Fourier decay 1."""
    from vizcore import filters

    return filters.FilterSettings(steps=256, size=size, decay=1.0, coarse_share=0.0, seed=SEED)



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


def batching(loaded, layer, channels, args):
    """Part 1: the batched gallery against keras.io's one-filter-at-a-time loop, same steps, all at full size."""
    from vizcore import filters

    settings = filters.FilterSettings(steps=args.steps, size=args.size, seed=SEED, coarse_share=0.0)

    # Untimed warm-ups: both sides trace their step once.
    warmup = dataclasses.replace(settings, steps=WARMUP_STEPS)
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
    return {
        "claim": "filter gallery: 16 channels rendered as one batch vs keras.io's one-filter-at-a-time loop",
        "steps": args.steps,
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


def previewed_run(loaded, layer, channels, settings, every):
    """One gallery with previews every ``every`` steps: (gallery, [(step, wall s, cpu s, uint8 images)]).

    The times leave out the time spent taking previews, so they are the render's own.
    """
    from vizcore import filters

    previews, spent = [], [0.0, 0.0]

    def keep(progress):
        wall, cpu = time.perf_counter(), time.process_time()
        if progress.images is not None:
            previews.append((progress.step, wall - start[0] - spent[0], cpu - start[1] - spent[1],
                             filters.to_uint8(progress.images)))
        spent[0] += time.perf_counter() - wall
        spent[1] += time.process_time() - cpu

    start = [time.perf_counter(), time.process_time()]
    gallery = filters.visualise_filters(loaded, layer, channels, settings, preview_every=every, on_progress=keep,
                                        max_seconds=None)
    return gallery, previews


def image_statistics(images):
    values = images.astype(np.float32)
    return {
        "contrast_std": round(float(values.std()), 1),
        "clipped_pixel_share": round(float(((images <= 5) | (images >= 250)).mean()), 4),
    }


def time_to_quality(loaded, layer, channels, size, rounds=DEFAULT_ROUNDS, every=DEFAULT_EVERY, grids=None):
    """Part 2: the former recipe against the default, time until every channel reaches 90% of the former's activation."""
    from vizcore import filters, images, viz

    subject_settings = filters.FilterSettings(size=size, seed=SEED)
    baseline_settings = former_recipe(size)
    rows = np.arange(len(channels))
    for settings in (baseline_settings, subject_settings):  # untimed: traces every stage's step
        filters.visualise_filters(loaded, layer, channels, dataclasses.replace(settings, steps=4))

    def activations(previews):
        return np.stack([filters.unit_activations(loaded, layer, picture)[rows, channels] for *_, picture in previews])

    def reached(previews, values, reference):
        ok = np.all(values >= QUALITY_SHARE * reference, axis=1)
        if not ok.any():
            return None
        step, wall, cpu, _ = previews[int(np.argmax(ok))]
        return {"step": int(step), "wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3)}

    results = []
    for _ in range(rounds):
        baseline, baseline_previews = previewed_run(loaded, layer, channels, baseline_settings, every)
        subject, subject_previews = previewed_run(loaded, layer, channels, subject_settings, every)
        reference = baseline.final_activation
        results.append({
            "baseline": reached(baseline_previews, activations(baseline_previews), reference),
            "subject": reached(subject_previews, activations(subject_previews), reference),
            "baseline_run": (baseline.seconds, baseline_previews[-1][2]),
            "subject_run": (subject.seconds, subject_previews[-1][2]),
            "activation_ratio": subject.final_activation / reference,
        })
    if grids:
        os.makedirs(grids, exist_ok=True)
        for name, gallery in (("former_recipe", baseline), ("default_recipe", subject)):
            with open(os.path.join(grids, f"filters_{name}.png"), "wb") as file:
                file.write(images.encode_png(viz.image_grid(gallery.images, 8)))

    def median(key, field):
        values = [row[key][field] for row in results if row[key] is not None]
        return round(float(np.median(values)), 3) if len(values) == len(results) else None

    baseline_wall, subject_wall = median("baseline", "wall_seconds"), median("subject", "wall_seconds")
    baseline_cpu, subject_cpu = median("baseline", "cpu_seconds"), median("subject", "cpu_seconds")
    ratio = subject_wall / baseline_wall if subject_wall is not None and baseline_wall else None
    cpu_ratio = subject_cpu / baseline_cpu if subject_cpu is not None and baseline_cpu else None
    activation_ratio = results[-1]["activation_ratio"]
    return {
        "claim": "filter gallery: the default recipe reaches 90% of the former recipe's activation, every channel, in half the time",
        "quality_share": QUALITY_SHARE,
        "rounds": rounds,
        "preview_every_steps": every,
        "baseline_former_recipe": {
            "settings": dataclasses.asdict(baseline_settings),
            "time_to_quality": [row["baseline"] for row in results],
            "whole_run_wall_seconds": [round(row["baseline_run"][0], 3) for row in results],
            "whole_run_cpu_seconds": [round(row["baseline_run"][1], 3) for row in results],
            "images": image_statistics(baseline.images),
        },
        "subject_default_recipe": {
            "settings": dataclasses.asdict(subject_settings),
            "stages": [
                {"steps": stage.steps, "tile": stage.tile, "warm_up": stage.warm_up, "rate": stage.rate,
                 "transforms": [repr(transform) for transform in stage.transforms]}
                for stage in subject_settings.stages()
            ],
            "time_to_quality": [row["subject"] for row in results],
            "whole_run_wall_seconds": [round(row["subject_run"][0], 3) for row in results],
            "whole_run_cpu_seconds": [round(row["subject_run"][1], 3) for row in results],
            "images": image_statistics(subject.images),
        },
        "time_to_quality_ratio": None if ratio is None else round(ratio, 3),
        "time_to_quality_ratio_in_cpu_time": None if cpu_ratio is None else round(cpu_ratio, 3),
        "whole_default_run_over_baseline_time_to_quality": (
            round(float(np.median([row["subject_run"][0] for row in results])) / baseline_wall, 3) if baseline_wall else None
        ),
        "target_ratio_at_most": TARGET_TIME_TO_QUALITY_RATIO,
        "meets_target": bool(ratio is not None and ratio <= TARGET_TIME_TO_QUALITY_RATIO),
        "activation_ratio_per_channel": {int(c): round(float(r), 3) for c, r in zip(channels, activation_ratio)},
        "activation_ratio_min": round(float(activation_ratio.min()), 3),
        "activation_ratio_median": round(float(np.median(activation_ratio)), 3),
        "grids": None if not grids else [os.path.join(grids, f"filters_{name}.png") for name in ("former_recipe", "default_recipe")],
    }


def measure(argv=None):
    """Both parts' JSON record, for ``main`` and for bench/gpu.py."""
    args = parse_args(argv)
    load_at_start = load_average()

    import vizcore
    from vizcore import filters

    loaded = vizcore.load_model(MODEL_NAME)
    layer, channel_text = loaded.spec.presets.gallery[0]
    channels = filters.parse_channels(channel_text, filters.layer_channel_count(loaded, layer))[: args.channels]
    report = {"model": MODEL_NAME, **run_environment(load_at_start), "layer": layer, "channels": channels, "size_px": args.size}
    if args.part in ("batching", "both"):
        report["batching"] = batching(loaded, layer, channels, args)
    if args.part in ("quality", "both"):
        report["time_to_quality"] = time_to_quality(loaded, layer, channels, args.size, args.rounds, args.every, args.grids)
    return report


def main(argv=None):
    print(json.dumps(measure(argv), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
