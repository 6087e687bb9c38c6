"""Claim: many visitors at once share the model well: concurrent requests are batched, long runs yield between steps.

Three measurements, in one run, on the embedded model (efficientnet_lite0) unless named otherwise:

* ``gradcam``: 8 Grad-CAM requests on 8 different images (the bundled samples and a mirror
  image) through ``vizcore.attribution.gradcam``: one after another (``serial``), from 8 threads
  at once with batching off (``concurrent_unbatched``: the batcher takes one request per model
  call, as the per-model lock did) and from 8 threads at once batched (``concurrent_batched``).
  ``--rounds`` rounds, the three interleaved; medians. ``speedup_batched`` = serial / batched
  (target: at least 1.5), ``max_abs_difference`` between the batched and serial maps (0..1 scale
  of the maps' own maximum), the process CPU time of serial and batched (load on the machine
  hardly moves it: what batching saves in work) and the mean rows per batched model call.
* ``predictions_during_dreams``: the latency of ``vizcore.predictions.top_predictions`` idle, and
  while 4 DeepDream runs (``vizcore.dream.deep_dream`` on 4 samples, the page's default settings)
  are in progress in other threads, with fair turns (a prediction goes before the next dream
  step) and without (``plain_lock``: a dream step and a prediction take their turn in whatever order
  the lock gives, as before). ``ratio_fair`` = busy / idle median (target: at most 2), with the
  median dream step for scale.
* ``memory``: the process's resident memory (RSS) warm, at the peak of a burst of 8 threads
  each asking Grad-CAM and predictions for new images of new sizes, after the burst, and after
  ``vizcore.models.batching.release_memory`` (glibc's malloc_trim): ``after_burst_mb`` - ``warm_mb``
  (target: at most 300).

The real-server figures (1, 2, 4, 8 browser sessions) are bench/serve_sessions.py.
Output: one JSON object; timings are noisy on a shared machine, compare the ratios.

Run: ``cd /work/main && .venv/bin/python bench/serve.py [--rounds 5] [--predictions 20]``
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import load_average, run_environment  # noqa: E402  (bench/harness.py)

MODEL_NAME = "efficientnet_lite0"
CONCURRENT = 8
DREAMERS = 4
DREAM_SAMPLES = ("astronaut", "immunohistochemistry", "rocket", "motorcycle_left")
PREDICTION_GAP_S = 0.15  # between predictions timed during the dreams: steps start and end at random phases
JOIN_S = 600
BURST_SIZES = ((240, 320), (480, 640), (600, 800), (768, 1024), (900, 1200), (1080, 1440), (1200, 1600), (1500, 2000))


def eight_images():
    import vizcore

    samples = [vizcore.load_sample(name) for name in vizcore.SAMPLE_NAMES]
    return (samples + [np.ascontiguousarray(samples[0][:, ::-1])])[:CONCURRENT]


def in_threads(count, work):
    """``work(number)`` in ``count`` threads released together; (results, seconds from release to the last end)."""
    barrier = threading.Barrier(count + 1)
    results, errors = [None] * count, []

    def run(number):
        try:
            barrier.wait()
            results[number] = work(number)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join(JOIN_S)
    if errors:
        raise errors[0]
    return results, time.perf_counter() - start


def measure_gradcam(loaded, rounds):
    from vizcore import attribution

    images = eight_images()
    for pixels in images:  # untimed: traces, and the views every request needs
        attribution.gradcam(loaded, pixels)
    max_rows = loaded.batcher.max_rows
    serial_s, unbatched_s, batched_s, difference = [], [], [], 0.0
    cpu_s, rows_per_call = {"serial": [], "concurrent_batched": []}, []
    for _ in range(rounds):
        start, cpu = time.perf_counter(), time.process_time()
        serial = [attribution.gradcam(loaded, pixels) for pixels in images]
        serial_s.append(time.perf_counter() - start)
        cpu_s["serial"].append(time.process_time() - cpu)
        loaded.batcher.max_rows = 1
        try:
            unbatched_s.append(in_threads(CONCURRENT, lambda number: attribution.gradcam(loaded, images[number]))[1])
        finally:
            loaded.batcher.max_rows = max_rows
        loaded.batcher.batch_sizes.clear()
        cpu = time.process_time()
        batched, seconds = in_threads(CONCURRENT, lambda number: attribution.gradcam(loaded, images[number]))
        batched_s.append(seconds)
        cpu_s["concurrent_batched"].append(time.process_time() - cpu)
        rows_per_call.extend(loaded.batcher.batch_sizes)
        for one, other in zip(serial, batched):
            assert one.class_index == other.class_index
            difference = max(difference, float(np.abs(one.values - other.values).max() / max(one.values.max(), 1e-12)))
    median = {name: float(np.median(values)) * 1000 for name, values in
              (("serial", serial_s), ("concurrent_unbatched", unbatched_s), ("concurrent_batched", batched_s))}
    return {
        "requests": CONCURRENT,
        "rounds": rounds,
        **{f"{name}_ms": round(value, 1) for name, value in median.items()},
        "speedup_batched": round(median["serial"] / median["concurrent_batched"], 2),
        "speedup_unbatched": round(median["serial"] / median["concurrent_unbatched"], 2),
        # process CPU time, which other work on the machine hardly moves: what batching saves in work
        "cpu_serial_ms": round(float(np.median(cpu_s["serial"])) * 1000, 1),
        "cpu_concurrent_batched_ms": round(float(np.median(cpu_s["concurrent_batched"])) * 1000, 1),
        "mean_rows_per_batched_model_call": round(float(np.mean(rows_per_call)), 2),
        "max_abs_difference": round(difference, 6),
        "meets_target": median["serial"] / median["concurrent_batched"] >= 1.5,
    }


def timed_predictions(loaded, pixels, count, gap_s):
    from vizcore import predictions

    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        predictions.top_predictions(loaded, pixels)
        seconds.append(time.perf_counter() - start)
        time.sleep(gap_s)
    return seconds


def predictions_while_dreaming(loaded, pixels, count, fair):
    """Prediction latencies (s) while DREAMERS dreams run, and the dreams' step times (s)."""
    import vizcore
    from vizcore import dream

    stop = threading.Event()
    step_times: list[float] = []
    started = threading.Barrier(DREAMERS + 1)

    def dreamer(number):
        last = [time.perf_counter()]

        def on_progress(progress):
            now = time.perf_counter()
            step_times.append(now - last[0])
            last[0] = now
            if progress.step == 1:
                started.wait()

        settings = dream.DreamSettings()
        dream.deep_dream(loaded, vizcore.load_sample(DREAM_SAMPLES[number]), settings=settings,
                         max_steps=10**6, on_progress=on_progress, should_stop=stop.is_set, max_seconds=None)

    turns = loaded.lock
    plain_step = turns.step
    if not fair:
        turns.step = turns.quick  # a dream step queues like any request: the old single lock
    threads = [threading.Thread(target=dreamer, args=(number,)) for number in range(DREAMERS)]
    try:
        for thread in threads:
            thread.start()
        started.wait(JOIN_S)
        latencies = timed_predictions(loaded, pixels, count, PREDICTION_GAP_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join(JOIN_S)
        turns.step = plain_step
    return latencies, step_times[DREAMERS:]  # the first steps include the traces


def measure_predictions(loaded, count):
    import vizcore
    from vizcore import predictions

    pixels = vizcore.load_sample("coffee")
    predictions.top_predictions(loaded, pixels)  # untimed: traces
    idle = timed_predictions(loaded, pixels, count, 0.0)
    fair, steps = predictions_while_dreaming(loaded, pixels, count, fair=True)
    plain, _ = predictions_while_dreaming(loaded, pixels, count, fair=False)
    idle_ms, fair_ms, plain_ms = (float(np.median(values)) * 1000 for values in (idle, fair, plain))
    return {
        "dreams_in_progress": DREAMERS,
        "predictions": count,
        "idle_ms": round(idle_ms, 1),
        "during_dreams_fair_ms": round(fair_ms, 1),
        "during_dreams_fair_max_ms": round(max(fair) * 1000, 1),
        "during_dreams_plain_lock_ms": round(plain_ms, 1),
        "median_dream_step_ms": round(float(np.median(steps)) * 1000, 1),
        "ratio_fair": round(fair_ms / idle_ms, 2),
        "ratio_plain_lock": round(plain_ms / idle_ms, 2),
        "meets_target": fair_ms / idle_ms <= 2.0,
    }


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_memory(loaded):
    import vizcore
    from vizcore import attribution, predictions
    from vizcore.images import fit_to_model
    from vizcore.models.batching import release_memory

    samples = [vizcore.load_sample(name) for name in vizcore.SAMPLE_NAMES]

    def visitor(number):
        height, width = BURST_SIZES[number]
        pixels = fit_to_model(samples[number % len(samples)], max(height, width))[:height, :width]
        pixels = np.ascontiguousarray(np.roll(pixels, number * 7, axis=1))
        predictions.top_predictions(loaded, pixels)
        return attribution.gradcam(loaded, pixels).values.shape

    in_threads(CONCURRENT, visitor)  # warm-up burst: traces, views, allocator arenas of 8 threads
    release_memory()
    warm = resident_mb()
    peak = [warm]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak.append(resident_mb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    for _ in range(3):
        in_threads(CONCURRENT, visitor)
    sampling.set()
    sampler.join()
    after = resident_mb()
    time.sleep(1.0)
    release_memory()
    released = resident_mb()
    return {
        "warm_mb": round(warm, 1),
        "peak_mb": round(max(peak), 1),
        "after_burst_mb": round(after, 1),
        "after_release_mb": round(released, 1),
        "growth_mb": round(released - warm, 1),
        "meets_target": released - warm <= 300.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the Grad-CAM measurement")
    parser.add_argument("--predictions", type=int, default=20, help="predictions timed per condition")
    parser.add_argument("--only", choices=("gradcam", "predictions", "memory"), help="one measurement only")
    args = parser.parse_args()
    load_at_start = load_average()

    import vizcore

    loaded = vizcore.load_model(MODEL_NAME)
    report = {"claim": "concurrent requests are batched; long runs yield between steps; memory comes back",
              "model": MODEL_NAME, **run_environment(load_at_start)}
    if args.only in (None, "gradcam"):
        report["gradcam"] = measure_gradcam(loaded, args.rounds)
    if args.only in (None, "predictions"):
        report["predictions_during_dreams"] = measure_predictions(loaded, args.predictions)
    if args.only in (None, "memory"):
        report["memory"] = measure_memory(loaded)
    report["load_average_1m_at_end"] = load_average()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
