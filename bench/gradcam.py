"""Claim: vizcore's warm Grad-CAM takes at most half the time of tf-keras-vis's ``Gradcam`` for the
same map.

Both explain the same thing: the embedded EfficientNet-Lite0, its Grad-CAM preset layer
(``head_relu``), the sample ``chelsea`` fitted to 224 x 224 (``vizcore.images.fit_to_model``), its
top-1 class, gradients of the class score before softmax.

* Baseline, tf-keras-vis as its docs use it: ``Gradcam(model, model_modifier=..., clone=True)``
  built once (untimed), ``CategoricalScore(class_index)`` built once, then per call
  ``gradcam(score, image, penultimate_layer="head_relu", seek_penultimate_conv_layer=False)`` on the
  image already in model space (preprocessing is not counted for the baseline). The modifiers are
  ``ReplaceToLinear()`` preceded by one that ends the model at the input of its final Softmax layer:
  ReplaceToLinear only changes a layer's ``activation`` attribute, which a separate Softmax layer
  does not have, so on this model it alone would leave the softmax in place. Without
  ``seek_penultimate_conv_layer=False`` tf-keras-vis would move from ``head_relu`` back to the last
  Conv2D (``head_conv``, before batch norm and ReLU), a different layer.
* Subject: ``vizcore.attribution.gradcam(loaded, pixels, class_index, layer)`` on the uint8
  pixels (its preprocessing counted).

Each is called once untimed (warm-up: tracing, Keras's first call), then ``--repeats`` times,
interleaved per repeat (the order alternates) so drift in machine load hits both alike. Output:
one JSON object with median/p90/min ms of each, ``time_ratio`` = vizcore median / tf-keras-vis
median (target: at most 0.5), and how alike the maps are: ``map_correlation`` (Pearson) and
``map_rank_correlation`` (Spearman) of the two 224 x 224 maps as each library returns them (they
differ in upsampling: tf-keras-vis uses scipy's corner-aligned ``zoom``, vizcore OpenCV's
pixel-centre bilinear resize, and tf-keras-vis also rescales to 0..1), and
``cam_correlation_same_upsampling``: tf-keras-vis's raw 7 x 7 CAM (``expand_cam=False,
normalize_cam=False``) upsampled the way vizcore does, against vizcore's map. The script exits 1
when the maps as returned correlate below 0.9 or the raw CAMs below 0.99: the comparison would
not be like-for-like.

Run: ``cd /work/main && .venv/bin/python bench/gradcam.py [--repeats N]``
(``--repeats``: timed calls per library after the warm-up.) Needs tf-keras-vis
(``pip install -r bench/requirements.txt``).
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
SAMPLE_NAME = "chelsea"
DEFAULT_REPEATS = 20
TIME_TARGET = 0.5
MIN_MAP_CORRELATION = 0.9  # maps as returned (different upsampling)
MIN_CAM_CORRELATION = 0.99  # the same CAM upsampled the same way: float noise only


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="timed calls per library")
    return parser.parse_args(argv)


def end_before_softmax(model):
    """tf-keras-vis model modifier: the same model ending at the input of its final Softmax layer."""
    import keras

    final = model.layers[-1]
    if not isinstance(final, keras.layers.Softmax):
        return model
    return keras.Model(model.inputs, final.input)


def build_tf_keras_vis(loaded, class_index):
    """(Gradcam visualiser, score), built once as tf-keras-vis's docs do."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    visualiser = Gradcam(loaded.keras_model, model_modifier=[end_before_softmax, ReplaceToLinear()], clone=True)
    return visualiser, CategoricalScore(class_index)


def timed(function, *args, **kwargs):
    """(result, milliseconds) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, (time.perf_counter() - start) * 1000.0


def summary(milliseconds):
    values = np.asarray(milliseconds)
    return {
        "median_ms": round(float(np.median(values)), 2),
        "p90_ms": round(float(np.percentile(values, 90)), 2),
        "min_ms": round(float(values.min()), 2),
        "calls": int(values.size),
    }


def pearson(first, second):
    return float(np.corrcoef(np.ravel(first), np.ravel(second))[0, 1])


def measure(argv=None):
    """The JSON record (main prints it; bench/gpu.py calls this)."""
    args = parse_args(argv)
    load_at_start = load_average()
    import tf_keras_vis
    from scipy.stats import spearmanr

    import vizcore
    from vizcore import attribution
    from vizcore.attribution.common import upsample
    from vizcore.images import fit_to_model

    loaded = vizcore.load_model(MODEL_NAME)
    pixels = fit_to_model(vizcore.load_sample(SAMPLE_NAME), loaded.spec.input_size)
    image = np.asarray(loaded.spec.preprocessing.to_model(pixels.astype(np.float32)), np.float32)[None]
    layer = loaded.spec.presets.gradcam_layer
    top = vizcore.top_predictions(loaded, pixels, 1)[0]
    visualiser, score = build_tf_keras_vis(loaded, top.index)

    def baseline_call():
        return visualiser(score, image, penultimate_layer=layer, seek_penultimate_conv_layer=False)

    def vizcore_call():
        return attribution.gradcam(loaded, pixels, top.index, layer)

    baseline_map = baseline_call()  # untimed warm-ups
    vizcore_map = vizcore_call()
    baseline_ms, vizcore_ms = [], []
    for repeat in range(args.repeats):
        order = (baseline_call, vizcore_call) if repeat % 2 == 0 else (vizcore_call, baseline_call)
        for call in order:
            _, elapsed = timed(call)
            (baseline_ms if call is baseline_call else vizcore_ms).append(elapsed)

    raw_cam = visualiser(
        score, image, penultimate_layer=layer, seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False
    )[0]
    map_correlation = pearson(baseline_map, vizcore_map.values)
    rank_correlation = float(spearmanr(np.ravel(baseline_map), np.ravel(vizcore_map.values)).statistic)
    cam_correlation = pearson(upsample(np.asarray(raw_cam), loaded.spec.input_size), vizcore_map.values)
    baseline, subject = summary(baseline_ms), summary(vizcore_ms)
    time_ratio = subject["median_ms"] / baseline["median_ms"]
    like_for_like = map_correlation >= MIN_MAP_CORRELATION and cam_correlation >= MIN_CAM_CORRELATION
    report = {
        "claim": "warm Grad-CAM latency: vizcore vs tf-keras-vis Gradcam, same model, layer, class and image",
        "model": MODEL_NAME,
        "image": SAMPLE_NAME,
        "layer": layer,
        "class_index": top.index,
        "class_label": top.label,
        **run_environment(load_at_start),
        "tf_keras_vis": tf_keras_vis.__version__,
        "repeats": args.repeats,
        "baseline_tf_keras_vis": baseline,
        "vizcore": subject,
        "time_ratio": round(time_ratio, 3),
        "time_target_at_most": TIME_TARGET,
        "meets_time_target": time_ratio <= TIME_TARGET,
        "map_shape": list(np.shape(vizcore_map.values)),
        "map_correlation": round(map_correlation, 4),
        "map_rank_correlation": round(rank_correlation, 4),
        "cam_correlation_same_upsampling": round(cam_correlation, 6),
        "like_for_like": like_for_like,
    }
    return report


def main():
    report = measure()
    print(json.dumps(report, indent=2))
    return 0 if report["like_for_like"] else 1


if __name__ == "__main__":
    sys.exit(main())
