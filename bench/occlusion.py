"""Claim: vizcore's chunked occlusion takes at most half the time and a quarter of the peak memory of
the all-at-once recipe, for the same map.

Baseline, the tf-explain recipe (``tf_explain.core.OcclusionSensitivity.get_sensitivity_map``):
build EVERY patched copy of the image as one array, then one ``model.predict(all_patched,
batch_size=...)`` on the user's Keras model (softmax output), read the class's probability per
copy. tf-explain slides its patch with stride = patch size and no batch size (Keras's default,
32); here the patch slides on the same grid as vizcore's (``vizcore.attribution.patch_positions``)
so any patch/stride pair can be compared, the hidden patch is filled with the same grey (pixel
value 128 in model space) and each pixel gets the same value, the mean drop of the class
probability over the patches that covered it. Subject: ``vizcore.attribution.occlusion(loaded,
pixels, class_index, patch, stride)`` with its defaults (grey fill, bounded chunks).

Both run on the embedded EfficientNet-Lite0, the sample ``chelsea`` fitted to 224 x 224, its top-1
class. Per patch/stride setting there are two fresh subprocesses, one per approach, so neither
approach's memory is seen by the other's measurement. In the child: load the model and run one
prediction; warm its approach up on a single 224 px patch (builds what it needs once: Keras's
predict function, or vizcore's private model copy and traced function) while allocating little;
record the resident set (RSS, /proc/self/statm) and the high-water mark (``ru_maxrss``); run the
approach once at the setting while a thread samples RSS every 2 ms. A full-size warm-up is
avoided on purpose: the allocators keep much of what a first call used, which would hide the
peak from an RSS taken after it. Then the child warms the other approach up and times both,
``--repeats`` calls each, interleaved in alternating order so drift in machine load (this
machine is shared) hits both alike; the timings of both children are pooled.

Reported per setting and approach: median/p90/min ms; ``peak_increase_mb`` = the highest RSS
during the measured call (sampled, or the high-water mark when that rose) minus the RSS just
before it: what one call needs on top of a loaded, warm model; ``warm_up_resident_mb`` = what the
one-patch warm-up left resident (vizcore's model copy, traced graphs), shown so nothing hides
there; ``peak_rss_mb_after_measured_call`` = the child's high-water mark then. Ratios:
``time_ratio`` = vizcore median / baseline median, ``memory_ratio`` = vizcore peak increase /
baseline peak increase (targets: at most 0.5 and 0.25). ``map_correlation`` is the Pearson
correlation of the two maps and ``map_max_abs_difference`` their largest difference (probability
units); the script exits 1 when the correlation is below 0.99 or the classes differ, which would
mean the comparison is not like-for-like.

Default settings: 32/16 (vizcore's defaults, 169 patches) and Captum's tutorial 15/8 (784 patches,
where the all-at-once array alone is 472 MB).

Run: ``cd /work/main && .venv/bin/python bench/occlusion.py [--settings 32/16,15/8] [--repeats N]
[--batch-size N]``
(``--settings``: comma-separated PATCH/STRIDE pairs in pixels; ``--repeats``: timed calls of each
approach per child, default 2, so 2 x N per approach and setting; ``--batch-size``: the
baseline's ``model.predict`` batch size, default 32.)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the child processes

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import load_average, run_environment  # noqa: E402  (bench/harness.py)

MODEL_NAME = "efficientnet_lite0"
SAMPLE_NAME = "chelsea"
GREY_PIXEL = 128.0  # vizcore's "grey" fill, before preprocessing
DEFAULT_SETTINGS = "32/16,15/8"
DEFAULT_REPEATS = 2
DEFAULT_BATCH_SIZE = 32  # Keras's predict default, what tf-explain's batch_size=None gets
RSS_SAMPLE_INTERVAL_S = 0.002
MIN_CORRELATION = 0.99
TIME_TARGET = 0.5
MEMORY_TARGET = 0.25
MEGABYTE = 1024 * 1024
APPROACHES = ("baseline_all_at_once", "vizcore")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help="comma-separated PATCH/STRIDE pairs in pixels")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="timed calls of each approach per child")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="the baseline's predict batch size")
    parser.add_argument("--child", choices=APPROACHES, help=argparse.SUPPRESS)
    parser.add_argument("--patch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stride", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--map-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def high_water_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kilobytes


class PeakResident:
    """Samples this process's RSS in a thread while the ``with`` block runs; ``peak`` in bytes."""

    def __init__(self):
        self.peak = resident_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, resident_bytes())
            time.sleep(RSS_SAMPLE_INTERVAL_S)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, resident_bytes())


def occlusion_all_at_once(loaded, pixels, class_index, patch, stride, batch_size):
    """tf-explain's recipe: every patched copy in one array, one ``model.predict``; S x S drops."""
    from vizcore.attribution import patch_positions

    size = loaded.spec.input_size
    to_model = loaded.spec.preprocessing.to_model
    image = np.asarray(to_model(pixels.astype(np.float32)), np.float32)
    grey = np.asarray(to_model(np.full(3, GREY_PIXEL, np.float32)), np.float32)
    positions = patch_positions(size, patch, stride)
    all_patched = np.repeat(image[None], len(positions), axis=0)
    for row, (top, left) in enumerate(positions):
        all_patched[row, top : top + patch, left : left + patch] = grey
    probabilities = loaded.keras_model.predict(all_patched, batch_size=batch_size, verbose=0)[:, class_index]
    unchanged = loaded.keras_model.predict(image[None], verbose=0)[0, class_index]
    drop_sum = np.zeros((size, size), np.float32)
    covered = np.zeros((size, size), np.float32)
    for (top, left), hidden in zip(positions, probabilities):
        drop_sum[top : top + patch, left : left + patch] += unchanged - hidden
        covered[top : top + patch, left : left + patch] += 1.0
    return drop_sum / np.maximum(covered, 1.0)


def summary(milliseconds):
    values = np.asarray(milliseconds)
    return {
        "median_ms": round(float(np.median(values)), 1),
        "p90_ms": round(float(np.percentile(values, 90)), 1),
        "min_ms": round(float(values.min()), 1),
        "calls": int(values.size),
    }


def run_child(args):
    """Peak memory of one approach in this fresh process, then both approaches timed; prints one JSON line."""
    import vizcore
    from vizcore import attribution
    from vizcore.images import fit_to_model

    loaded = vizcore.load_model(MODEL_NAME)
    pixels = fit_to_model(vizcore.load_sample(SAMPLE_NAME), loaded.spec.input_size)
    class_index = vizcore.top_predictions(loaded, pixels, 1)[0].index
    methods = {
        "vizcore": lambda patch, stride: attribution.occlusion(loaded, pixels, class_index, patch, stride).values,
        "baseline_all_at_once": lambda patch, stride: occlusion_all_at_once(
            loaded, pixels, class_index, patch, stride, args.batch_size
        ),
    }
    measured = methods[args.child]
    other = methods[APPROACHES[1 - APPROACHES.index(args.child)]]

    after_load = resident_bytes()
    size = loaded.spec.input_size
    measured(size, size)  # warm-up on one patch: builds what it needs once, allocates little
    before_call = resident_bytes()
    high_water_before = high_water_bytes()
    with PeakResident() as sampler:
        values = measured(args.patch, args.stride)  # the measured call (untimed: it may trace for the bigger batch)
    high_water_after = high_water_bytes()
    peak = max(sampler.peak, high_water_after if high_water_after > high_water_before else 0)
    np.save(args.map_out, values)

    other(args.patch, args.stride)  # untimed warm-up of the other approach
    milliseconds = {approach: [] for approach in APPROACHES}
    for repeat in range(args.repeats):
        for approach in APPROACHES if repeat % 2 == 0 else APPROACHES[::-1]:
            start = time.perf_counter()
            methods[approach](args.patch, args.stride)
            milliseconds[approach].append(round((time.perf_counter() - start) * 1000.0, 1))
    print(json.dumps({
        "class_index": class_index,
        "patches": len(attribution.patch_positions(size, args.patch, args.stride)),
        "milliseconds": milliseconds,
        "peak_increase_mb": round((peak - before_call) / MEGABYTE, 1),
        "warm_up_resident_mb": round((before_call - after_load) / MEGABYTE, 1),
        "peak_rss_mb": round(high_water_after / MEGABYTE, 1),
    }))


def launch(approach, patch, stride, args, map_path):
    command = [
        sys.executable, os.path.abspath(__file__), "--child", approach, "--patch", str(patch), "--stride",
        str(stride), "--repeats", str(args.repeats), "--batch-size", str(args.batch_size), "--map-out", map_path,
    ]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"bench/occlusion.py: the {approach} child failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def parse_settings(text):
    settings = []
    for pair in text.split(","):
        patch, stride = (int(value) for value in pair.split("/"))
        settings.append((patch, stride))
    return settings


def compare_setting(patch, stride, args, folder):
    children, maps = {}, {}
    for approach in APPROACHES:
        map_path = os.path.join(folder, f"{approach}_{patch}_{stride}.npy")
        children[approach] = launch(approach, patch, stride, args, map_path)
        maps[approach] = np.load(map_path)
    rows = {}
    for approach in APPROACHES:
        timings = [value for child in children.values() for value in child["milliseconds"][approach]]
        rows[approach] = {
            "time": summary(timings),
            "peak_increase_mb": children[approach]["peak_increase_mb"],
            "warm_up_resident_mb": children[approach]["warm_up_resident_mb"],
            "peak_rss_mb_after_measured_call": children[approach]["peak_rss_mb"],
        }
    baseline, subject = rows["baseline_all_at_once"], rows["vizcore"]
    correlation = float(np.corrcoef(maps["baseline_all_at_once"].ravel(), maps["vizcore"].ravel())[0, 1])
    time_ratio = subject["time"]["median_ms"] / baseline["time"]["median_ms"]
    memory_ratio = subject["peak_increase_mb"] / max(baseline["peak_increase_mb"], 1e-3)
    return {
        "patch": patch,
        "stride": stride,
        "patches": children["vizcore"]["patches"],
        "same_class": len({child["class_index"] for child in children.values()}) == 1,
        "class_index": children["vizcore"]["class_index"],
        "baseline_all_at_once": baseline,
        "vizcore": subject,
        "time_ratio": round(time_ratio, 3),
        "memory_ratio": round(memory_ratio, 3),
        "meets_time_target": time_ratio <= TIME_TARGET,
        "meets_memory_target": memory_ratio <= MEMORY_TARGET,
        "map_correlation": round(correlation, 6),
        "map_max_abs_difference": float(np.abs(maps["baseline_all_at_once"] - maps["vizcore"]).max()),
    }


def measure(argv=None):
    """The JSON record (main prints it; bench/gpu.py calls this)."""
    args = parse_args(argv)
    load_at_start = load_average()


    with tempfile.TemporaryDirectory(prefix="vizcore-occlusion-bench-") as folder:
        rows = [compare_setting(patch, stride, args, folder) for patch, stride in parse_settings(args.settings)]
    like_for_like = all(row["same_class"] and row["map_correlation"] >= MIN_CORRELATION for row in rows)
    report = {
        "claim": "occlusion: vizcore's bounded chunks vs every patched copy in one model.predict (tf-explain)",
        "model": MODEL_NAME,
        "image": SAMPLE_NAME,
        **run_environment(load_at_start),
        "repeats_per_child": args.repeats,
        "baseline_batch_size": args.batch_size,
        "targets": {"time_ratio_at_most": TIME_TARGET, "memory_ratio_at_most": MEMORY_TARGET},
        "settings": rows,
        "like_for_like": like_for_like,
    }
    return report


def main():
    args = parse_args()
    if args.child:
        run_child(args)
        return 0
    report = measure()
    print(json.dumps(report, indent=2))
    return 0 if report["like_for_like"] else 1


if __name__ == "__main__":
    sys.exit(main())
