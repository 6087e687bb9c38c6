"""Claim: warm prediction latency of the app's cached path vs a plain ``model.predict`` per image.

Measured in one process, on the same ~12 distinct images (the bundled samples plus a few random
crops and flips of them, so every image is new to the result cache):

* ``baseline_keras_predict``: the classic notebook recipe per image, ``fit_to_model`` resize/crop,
  preprocessing, ``keras_model.predict(batch, verbose=0)`` and an argmax, after one untimed warm-up.
* ``vizcore_uncached``: ``vizcore.predictions.top_predictions`` per image, what the app runs on a
  result-cache miss (model loaded and warm), after one untimed warm-up.
* ``vizcore_cache_hit``: ``vizcore.cached.top_predictions`` (Streamlit's ``st.cache_data``) called
  twice per image; only the second call is timed, a result-cache hit: what a rerun of the page costs.
  The timed call includes ``image_hash`` of the pixels (the app computes it once per image load;
  counting it here keeps the figure conservative).

Each image is timed ``--repeats`` times per subject (baseline and vizcore_uncached interleaved per
image, so drift in machine load hits both alike). Output: one JSON object with the median and p90 in
milliseconds of each, ``speedup_*`` = baseline median / subject median (above 1 means the subject is
faster), and ``same_top1``: whether vizcore's top-1 class equals the baseline's for every image
(the script exits 1 when it does not).

Run: ``cd /work/main && .venv/bin/python bench/predictions.py [--repeats N] [--top-k K]``
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import load_average, run_environment, silence_streamlit  # noqa: E402  (bench/harness.py)

MODEL_NAME = "efficientnet_lite0"
SEED = 0
EXTRA_VARIANTS = 5  # random crops/flips added to the samples
MIN_CROP_FRACTION = 0.6  # a random crop keeps at least this fraction of each side
DEFAULT_REPEATS = 5
DEFAULT_TOP_K = 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="timed calls per image and subject")
    parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="classes asked of vizcore")
    return parser.parse_args(argv)



def random_variant(pixels, rng):
    """A random crop of ``pixels``, flipped left-right half of the time."""
    height, width = pixels.shape[:2]
    crop_h = int(rng.integers(int(height * MIN_CROP_FRACTION), height + 1))
    crop_w = int(rng.integers(int(width * MIN_CROP_FRACTION), width + 1))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    crop = pixels[top : top + crop_h, left : left + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def build_images():
    """(name, pixels) pairs, all with distinct content hashes."""
    import vizcore
    from vizcore.images import image_hash

    rng = np.random.default_rng(SEED)
    samples = [(name, vizcore.load_sample(name)) for name in vizcore.SAMPLE_NAMES]
    result = list(samples)
    for number in range(EXTRA_VARIANTS):
        name, pixels = samples[number % len(samples)]
        result.append((f"{name}~variant{number}", random_variant(pixels, rng)))
    hashes = {image_hash(pixels) for _, pixels in result}
    if len(hashes) != len(result):
        raise SystemExit("bench/predictions.py: two benchmark images have the same content hash.")
    return result


def keras_predict_top1(loaded, pixels):
    """The notebook recipe: resize/crop, preprocess, model.predict, argmax."""
    from vizcore.images import fit_to_model

    fitted = fit_to_model(pixels, loaded.spec.input_size).astype(np.float32)
    batch = np.asarray(loaded.spec.preprocessing.to_model(fitted), dtype=np.float32)[None]
    probabilities = loaded.keras_model.predict(batch, verbose=0)
    return int(np.argmax(probabilities[0]))


def timed(function, *args):
    """(result, milliseconds) of one call."""
    start = time.perf_counter()
    result = function(*args)
    return result, (time.perf_counter() - start) * 1000.0


def summary(milliseconds):
    values = np.asarray(milliseconds)
    return {
        "median_ms": round(float(np.median(values)), 3),
        "p90_ms": round(float(np.percentile(values, 90)), 3),
        "min_ms": round(float(values.min()), 3),
        "calls": int(values.size),
    }


def measure_baseline_and_uncached(loaded, images, repeats, top_k):
    """Per-image timings of the keras.predict recipe and vizcore's uncached path, interleaved."""
    from vizcore import predictions

    warm_pixels = images[0][1]
    keras_predict_top1(loaded, warm_pixels)  # untimed warm-up: builds Keras's predict function
    predictions.top_predictions(loaded, warm_pixels, top_k)  # untimed warm-up: traces the tf.function
    baseline_ms, vizcore_ms, rows = [], [], []
    for name, pixels in images:
        for _ in range(repeats):
            baseline_top1, elapsed = timed(keras_predict_top1, loaded, pixels)
            baseline_ms.append(elapsed)
            vizcore_top, elapsed = timed(predictions.top_predictions, loaded, pixels, top_k)
            vizcore_ms.append(elapsed)
        rows.append(
            {
                "image": name,
                "size": f"{pixels.shape[1]}x{pixels.shape[0]}",
                "baseline_top1": baseline_top1,
                "vizcore_top1": vizcore_top[0].index,
                "vizcore_top1_label": vizcore_top[0].label,
            }
        )
    return baseline_ms, vizcore_ms, rows


def cache_hit_call(pixels, top_k):
    """What a page rerun does for its predictions: hash the pixels, read Streamlit's result cache."""
    from vizcore import cached
    from vizcore.images import image_hash

    return cached.top_predictions(MODEL_NAME, image_hash(pixels), pixels, top_k)


def measure_cache_hits(images, repeats, top_k):
    """Time the second call per image (the first is a miss that fills the cache)."""
    from vizcore import cached

    cached.shared_model(MODEL_NAME)  # load and warm the app's shared model, untimed
    hit_ms = []
    for _, pixels in images:
        for _ in range(repeats):
            cache_hit_call(pixels, top_k)  # untimed: a miss the first time, a hit afterwards
            _, elapsed = timed(cache_hit_call, pixels, top_k)
            hit_ms.append(elapsed)
    return hit_ms


def measure(argv=None):
    """The JSON record (main prints it; bench/gpu.py calls this)."""
    args = parse_args(argv)
    load_at_start = load_average()
    silence_streamlit()

    import vizcore

    images = build_images()
    loaded = vizcore.load_model(MODEL_NAME)
    baseline_ms, uncached_ms, rows = measure_baseline_and_uncached(loaded, images, args.repeats, args.top_k)
    hit_ms = measure_cache_hits(images, args.repeats, args.top_k)

    baseline, uncached, hit = summary(baseline_ms), summary(uncached_ms), summary(hit_ms)
    same_top1 = all(row["baseline_top1"] == row["vizcore_top1"] for row in rows)
    report = {
        "claim": "warm prediction latency: vizcore's cached path vs keras model.predict per image",
        "model": MODEL_NAME,
        **run_environment(load_at_start),
        "images": len(images),
        "repeats_per_image": args.repeats,
        "top_k": args.top_k,
        "baseline_keras_predict": baseline,
        "vizcore_uncached": uncached,
        "vizcore_cache_hit": hit,
        "speedup_uncached": round(baseline["median_ms"] / uncached["median_ms"], 2),
        "speedup_cache_hit": round(baseline["median_ms"] / hit["median_ms"], 2),
        "same_top1": same_top1,
        "per_image": rows,
    }
    return report


def main():
    report = measure()
    print(json.dumps(report, indent=2))
    return 0 if report["same_top1"] else 1


if __name__ == "__main__":
    sys.exit(main())
