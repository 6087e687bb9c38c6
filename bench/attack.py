"""Claims (issue #13): how often PGD-10 fools the embedded model at epsilon 1, 2 and 4 pixel levels on the
sample photos (after saving), and a vizcore PGD step is at least 2x faster than a plain eager GradientTape step.

Success rate. ``vizcore.adversarial.attack`` with PGD, L-infinity, 10 steps, untargeted, the default
step (2.5 x epsilon / 10), on every bundled sample photo (``vizcore.images.SAMPLE_NAMES``) as the
model sees it (224 x 224). Success is judged as the library reports it: on the adversarial image
rounded to uint8 within epsilon, saved as PNG and decoded again, its top-1 class differs from
the original's.

Time per step. Subject: ``attack`` on chelsea, PGD L-infinity at epsilon 2, ``--steps`` steps; the
time is the run's own clock (``Attack.seconds``: the step loop only, not the two predictions
and the PNG round trip around it) divided by the steps. Baseline: the loop the TensorFlow FGSM
tutorial writes, iterated: eager, on the loaded Keras model itself (softmax output), per step
``with tf.GradientTape()``: watch the image, the model on the preprocessed image, sparse
categorical cross-entropy of the original class, the gradient; then the signed step, the clip
to the epsilon box around the original and to 0..255. Same image, class, epsilon and step size.
Both sides warm up once untimed; then ``--repeats`` rounds, interleaved, medians reported.

Output: one JSON object: the success rate per epsilon with every photo's classes before and
after, ms per step of each side, ``speedup`` = baseline / vizcore (target at least 2) and the
same ratio in process CPU time.

Run: ``cd /work/main && .venv/bin/python bench/attack.py [--steps N] [--repeats R]``
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import load_average, run_environment  # noqa: E402  (bench/harness.py)

MODEL_NAME = "efficientnet_lite0"
EPSILONS = (1.0, 2.0, 4.0)
SUCCESS_STEPS = 10
TIMING_SAMPLE = "chelsea"
TIMING_EPSILON = 2.0
DEFAULT_STEPS = 10
DEFAULT_REPEATS = 3
TARGET_SPEEDUP = 2.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="timed PGD steps per round, both sides")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="interleaved rounds; medians are reported")
    return parser.parse_args(argv)


def success_rates(loaded, samples: dict) -> dict:
    from vizcore.adversarial import AttackSettings, attack

    rates = {}
    for epsilon in EPSILONS:
        rows = []
        for name, pixels in samples.items():
            result = attack(loaded, pixels, AttackSettings(method="pgd", norm="linf", epsilon=epsilon, steps=SUCCESS_STEPS))
            rows.append({"sample": name, "original": result.original_class.as_dict(),
                         "adversarial": result.adversarial_class.as_dict(), "linf": result.linf, "success": result.success})
        rates[f"{epsilon:g}"] = {"success_rate": sum(row["success"] for row in rows) / len(rows), "photos": rows}
    return rates


def eager_pgd(keras_model, preprocessing):
    """The baseline: ``run(original, label, steps, epsilon, step_size)`` as a plain eager GradientTape loop."""
    import tensorflow as tf

    loss_of = tf.keras.losses.SparseCategoricalCrossentropy()

    def run(original, label, steps, epsilon, step_size):
        image = tf.identity(original)
        for _ in range(steps):
            with tf.GradientTape() as tape:
                tape.watch(image)
                probabilities = keras_model(preprocessing.to_model(image), training=False)
                loss = loss_of(label, probabilities)
            gradient = tape.gradient(loss, image)
            image = image + step_size * tf.sign(gradient)
            image = tf.clip_by_value(tf.clip_by_value(image, original - epsilon, original + epsilon), 0.0, 255.0)
        return image.numpy()

    return run


def _timed(function) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def step_times(loaded, pixels, steps: int, repeats: int) -> dict:
    import tensorflow as tf

    from vizcore.adversarial import AttackSettings, attack
    from vizcore.images import fit_to_model

    settings = AttackSettings(method="pgd", norm="linf", epsilon=TIMING_EPSILON, steps=steps)
    original = fit_to_model(pixels, loaded.spec.input_size)
    baseline = eager_pgd(loaded.keras_model, loaded.spec.preprocessing)
    label = tf.constant([attack(loaded, pixels, AttackSettings(method="fgsm")).original_class.class_index])
    original_tensor = tf.constant(original[None], tf.float32)

    def run_baseline(count):
        baseline(original_tensor, label, count, TIMING_EPSILON, settings.step_px)

    attack(loaded, pixels, settings)  # warm-ups: both sides once, untimed
    run_baseline(1)
    vizcore_wall, vizcore_cpu, baseline_wall, baseline_cpu = [], [], [], []
    for _ in range(repeats):
        cpu = time.process_time()
        result = attack(loaded, pixels, settings)
        vizcore_wall.append(result.seconds / result.steps_done)
        vizcore_cpu.append((time.process_time() - cpu) / result.steps_done)  # with the predictions around the loop
        wall, cpu = _timed(lambda: run_baseline(steps))
        baseline_wall.append(wall / steps)
        baseline_cpu.append(cpu / steps)
    vizcore_step, baseline_step = float(np.median(vizcore_wall)), float(np.median(baseline_wall))
    return {
        "sample": TIMING_SAMPLE,
        "epsilon": TIMING_EPSILON,
        "step_size": settings.step_px,
        "steps_per_round": steps,
        "rounds": repeats,
        "vizcore_step_ms": round(vizcore_step * 1000.0, 2),
        "baseline_eager_step_ms": round(baseline_step * 1000.0, 2),
        "vizcore_step_ms_per_round": [round(value * 1000.0, 2) for value in vizcore_wall],
        "baseline_step_ms_per_round": [round(value * 1000.0, 2) for value in baseline_wall],
        "speedup": round(baseline_step / vizcore_step, 2),
        "speedup_in_cpu_time": round(float(np.median(baseline_cpu)) / float(np.median(vizcore_cpu)), 2),
        "target_speedup": TARGET_SPEEDUP,
        "meets_speedup_target": bool(baseline_step / vizcore_step >= TARGET_SPEEDUP),
    }


def measure(argv=None) -> dict:
    args = parse_args(argv)
    load_at_start = load_average()
    import vizcore

    loaded = vizcore.load_model(MODEL_NAME)
    samples = {name: vizcore.load_sample(name) for name in vizcore.SAMPLE_NAMES}
    timing = step_times(loaded, samples[TIMING_SAMPLE], args.steps, args.repeats)
    return {
        "claim": "PGD-10 success rate at epsilon 1, 2, 4 (saved PNG) and ms per PGD step, vizcore vs eager GradientTape",
        "model": MODEL_NAME,
        **run_environment(load_at_start),
        "success": {"method": "pgd", "norm": "linf", "steps": SUCCESS_STEPS, "by_epsilon": success_rates(loaded, samples)},
        "step_time": timing,
        "load_average_1m_at_end": load_average(),
    }


def main():
    print(json.dumps(measure(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
