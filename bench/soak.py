"""Claim: a long-lived app process does not grow: 200 reruns over 20 image sizes add at most 150 MB of RSS and no traces.

Measured in one process, like one server that stays up: one AppTest session (Streamlit's own
script runner, with the shared ``st.cache_resource`` model and the ``st.cache_data`` result
caches of a real server) alternates between the Predictions and Grad-CAM pages. Every rerun
uploads a new image (new pixels, so every result is computed and cached anew: the worst case for
the caches), its size taken in turn from 20 sizes between 48 x 64 and 1500 x 2000 pixels.

* Warm-up: ``--warmup`` reruns (default 20, one pass over the sizes) fill the model's traces, the
  private model copies and the caches up to their entry limits.
* Then ``--reruns`` reruns (default 200); the process's resident set size (RSS, from
  ``/proc/self/statm``) is sampled after the warm-up and every ``--every`` reruns (default 10).

* Then the repeated-upload phase: ``--uploads`` times (default 30) the session uploads a new
  model file of about 8 MB (same layers, new weights, so a new model each time; the session keeps
  one uploaded model, so each upload drops the previous one) and runs Predictions and Grad-CAM on
  it. RSS is sampled after each; after two warm-up uploads, the growth per upload must stay
  within 2 MB: a dropped model must take its copies, views and traces with it.

The baseline is the first sample after the warm-up. Output: one JSON object with the RSS curve in
MB, ``growth_mb`` = last sample - baseline, ``peak_growth_mb`` = highest sample - baseline, the
150 MB limit, the tracing counts of the traced functions behind both pages after the
warm-up and at the end, and ``passed``: growth within the limit and no new traces (the script
exits 1 when it fails). Garbage collection is left to Python, as in a server.

Run: ``cd /work/main && .venv/bin/python bench/soak.py [--reruns N] [--warmup N] [--every N]``
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import load_average, run_environment, silence_streamlit  # noqa: E402  (bench/harness.py)

APP = os.path.join(ROOT, "app.py")
MODEL = "efficientnet_lite0"  # the sidebar's default, which both pages use
RUN_TIMEOUT_S = 300
LIMIT_MB = 150.0
DEFAULT_RERUNS = 200
DEFAULT_WARMUP = 20
DEFAULT_EVERY = 10
DEFAULT_UPLOADS = 30
UPLOAD_WARMUP = 2
UPLOAD_LIMIT_MB = 2.0  # per uploaded-then-dropped model
UPLOAD_CLASSES = 4000  # with 512 channels before the head: about 2.1 M parameters, 8 MB of weights
PAGES = ("pages/predictions.py", "pages/grad-cam.py")  # alternated, one per rerun
# (height, width) in pixels: small to large, landscape, portrait and square.
IMAGE_SIZES = (
    (48, 64), (64, 48), (120, 160), (150, 200), (224, 224), (240, 320), (300, 200), (320, 480), (400, 400),
    (480, 640), (512, 384), (600, 800), (640, 480), (720, 1280), (768, 1024), (800, 600), (900, 1200),
    (1024, 768), (1080, 1440), (1500, 2000),
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=DEFAULT_RERUNS, help="measured reruns after the warm-up")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="reruns before the first sample")
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY, help="reruns between RSS samples")
    parser.add_argument("--uploads", type=int, default=DEFAULT_UPLOADS, help="model files uploaded one after another")
    return parser.parse_args()



def model_file(seed):
    """A new ~8 MB .keras model (built-in layers only, so vizcore's checks accept it) as bytes."""
    import tempfile

    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(512, 1, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(UPLOAD_CLASSES, activation="softmax", name="head")(x))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"soak_{seed}.keras")
        model.save(path)
        with open(path, "rb") as stream:
            return stream.read()


def rss_mb():
    """This process's resident set size in MB (2**20 bytes)."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def generated_image(height, width, seed):
    """A smooth random RGB picture (new pixels for every seed) as JPEG bytes, as a phone photo would come."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    pixels = Image.fromarray(coarse).resize((width, height), Image.BILINEAR)
    buffer = io.BytesIO()
    pixels.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


TRACED_FUNCTIONS = ("forward", "scores", "features_and_gradients")  # behind the Predictions and Grad-CAM pages


def tracing_counts():
    """Traces of the functions both pages run, on the shared model and its views."""
    from vizcore import cached

    counts = cached.shared_model(MODEL).derived.tracing_counts()
    return {name: counts.get(name, 0) for name in TRACED_FUNCTIONS}


class Session:
    """One browser session driven through AppTest: upload an image, open a page, check it rendered."""

    def __init__(self):
        from streamlit.testing.v1 import AppTest

        from ui.sidebar import UPLOAD as IMAGE_UPLOAD

        self.upload_key = IMAGE_UPLOAD
        self.app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()
        self.app.sidebar.radio(key="image_source").set_value("Upload").run()
        self.check()

    def rerun(self, number):
        height, width = IMAGE_SIZES[number % len(IMAGE_SIZES)]
        upload = (f"soak_{number}_{width}x{height}.jpg", generated_image(height, width, seed=number), "image/jpeg")
        self.app.sidebar.file_uploader(key=self.upload_key).set_value(upload)
        self.app.switch_page(PAGES[number % len(PAGES)]).run()
        self.check()
        caption = self.app.sidebar.get("image")[0].proto.imgs[0].caption
        if f"{width}×{height}" not in caption:
            raise SystemExit(f"bench/soak.py: rerun {number} shows {caption!r}, not the {width}x{height} upload.")

    def upload_model(self, seed):
        """Upload a new model file, then show Predictions and Grad-CAM on it."""
        data = model_file(seed)
        self.app.sidebar.file_uploader(key="user_model_file").set_value((f"soak_{seed}.keras", data, "application/octet-stream"))
        for page in PAGES:
            self.app.switch_page(page).run()
            self.check()
        if not str(self.app.sidebar.selectbox(key="model_choice").value).startswith("upload:"):
            raise SystemExit(f"bench/soak.py: upload {seed} did not become the session's model.")
        return len(data) / 2**20

    def check(self):
        if self.app.exception or self.app.error:
            problems = [element.value for element in (*self.app.exception, *self.app.error)]
            raise SystemExit(f"bench/soak.py: the app failed: {problems}")


def main():
    args = parse_args()
    load_at_start = load_average()
    silence_streamlit()


    start = time.perf_counter()
    rss_before_app = rss_mb()
    session = Session()
    for number in range(args.warmup):
        session.rerun(number)
    traces_before = tracing_counts()
    warmup_seconds = time.perf_counter() - start

    curve = {0: round(rss_mb(), 1)}  # measured reruns done -> RSS in MB
    measure_start = time.perf_counter()
    for offset in range(1, args.reruns + 1):
        session.rerun(args.warmup + offset)
        if offset % args.every == 0 or offset == args.reruns:
            curve[offset] = round(rss_mb(), 1)
    measure_seconds = time.perf_counter() - measure_start
    traces_after = tracing_counts()

    baseline = curve[0]
    growth = curve[args.reruns] - baseline
    peak_growth = max(curve.values()) - baseline
    no_new_traces = traces_after == traces_before

    upload_curve = {}  # uploads done -> RSS in MB
    file_mb = 0.0
    for number in range(args.uploads):
        file_mb = session.upload_model(seed=number)
        upload_curve[number + 1] = round(rss_mb(), 1)
    measured = [count for count in upload_curve if count >= UPLOAD_WARMUP]
    per_upload = (
        (upload_curve[measured[-1]] - upload_curve[measured[0]]) / max(len(measured) - 1, 1) if measured else 0.0
    )
    uploads_passed = per_upload <= UPLOAD_LIMIT_MB
    passed = growth <= LIMIT_MB and no_new_traces and uploads_passed
    report = {
        "claim": "200 reruns over 20 image sizes on Predictions and Grad-CAM: RSS grows at most 150 MB, no retracing; "
                 "each uploaded model, once dropped, leaves at most 2 MB",
        **run_environment(load_at_start),
        "pages": list(PAGES),
        "image_sizes": [f"{width}x{height}" for height, width in IMAGE_SIZES],
        "warmup_reruns": args.warmup,
        "measured_reruns": args.reruns,
        "rss_mb_before_first_run": round(rss_before_app, 1),
        "rss_mb_after_warmup": baseline,
        "rss_mb_by_rerun": {str(rerun): mb for rerun, mb in curve.items()},
        "growth_mb": round(growth, 1),
        "peak_growth_mb": round(peak_growth, 1),
        "limit_mb": LIMIT_MB,
        "tracing_counts_after_warmup": traces_before,
        "tracing_counts_at_end": traces_after,
        "no_new_traces": no_new_traces,
        "warmup_seconds": round(warmup_seconds, 1),
        "seconds_per_measured_rerun": round(measure_seconds / args.reruns, 3),
        "uploads": args.uploads,
        "upload_file_mb": round(file_mb, 1),
        "rss_mb_by_upload": {str(count): mb for count, mb in upload_curve.items()},
        "growth_mb_per_upload_after_warmup": round(per_upload, 2),
        "upload_limit_mb": UPLOAD_LIMIT_MB,
        "passed": passed,
    }
    print(json.dumps(report, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
