"""The index pass (vizcore/datasets/index.py): throughput, memory flat in dataset size, and the Ray engine.

Claims (issue #12), each measured in one run, every subject in its own process:

* ``local_vs_bare``: the local engine's images/s (decoding JPEGs, writing Parquet, the top-K merge
  included) against the bare batched forward pass (``IndexRecipe`` on images already decoded and
  fitted, same model, batch size and layers, one batch after another): at least 0.85, the median
  of ``--pairs`` runs of each in turn (one pair varies by +-0.03 on this machine). The local
  engine runs two batches side by side (``IndexRecipe.map``); ``ratio_to_bare_side_by_side``
  compares it with a bare pass that does the same, to show what decoding and writing still cost.
* ``peak_rss``: the local engine's peak resident memory on ``--large`` images against ``--small``:
  at most +150 MB.
* ``ray_N``: the Ray engine on a local Ray with 1 and 2 model actors against the local engine on the
  same N images (``--ray``, default 2,000 and 10,000): at least 0.7x. Both start from a loaded model
  with nothing derived from it, as ``vizcore index`` does: the local engine builds its folded copy
  and traces in the timed pass, each Ray actor loads the model, builds and traces its own.
  Starting Ray itself is outside the timed pass, as with an existing cluster (``--ray-address``). ``images_for_target`` is where the ratio
  reaches 0.7, from each run's start-up and steady rate. For ``local_vs_bare`` the local engine warms
  its copy and trace first, untimed, as the bare pass does. Shards are 64 images, so every run
  writes several.

Each engine run also reports ``first_shard_seconds`` (start-up: for Ray, the actors' process start,
TensorFlow import, model load and trace) and ``steady_images_per_second``, from the first shard
written to the last, which is what a large dataset sees; the ``steady_ratio`` fields compare those.

The dataset is written once to a temporary folder: JPEGs of random crops and flips of the bundled
photos (``--side`` px on the longer side), in ten class folders.

    python bench/index.py [--small 1000] [--large 10000] [--throughput 1000] [--pairs 3] [--ray 2000,10000]
                          [--batch-size 32]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from harness import load_average, run_environment  # noqa: E402

LAYERS = ("stage4_block3_add",)
SHARD = 64
CLASSES = 10

# One subject per process: its images/s and its own peak RSS (ru_maxrss, KiB on Linux).
SUBJECT = r"""
import json, resource, sys, time
import numpy as np
kind, data, out, count, batch_size, actors = sys.argv[1:7]
count, batch_size, actors = int(count), int(batch_size), int(actors)
SHARD = 64
import vizcore
from vizcore.datasets.index import IndexSettings, build_index
settings = IndexSettings(layers=("stage4_block3_add",), batch_size=batch_size, shard_size=SHARD)
model = vizcore.load_model()
if kind in ("bare", "bare-side-by-side"):
    from vizcore.datasets.recipe import SIDE_BY_SIDE, IndexRecipe
    from vizcore.datasets.sources import open_source
    from vizcore.images import fit_to_model
    recipe = IndexRecipe(model, settings.layers, batch_size)
    with open_source(data) as source:
        images = np.stack([fit_to_model(source.decode(file), 224) for file in source.files[:batch_size * 4]])
    recipe({"image": images[:batch_size]})  # trace once, untimed
    chunks = [images[(start // batch_size) % 4 * batch_size:][:min(batch_size, count - start)]
              for start in range(0, count, batch_size)]
    together = SIDE_BY_SIDE if kind == "bare-side-by-side" else 1
    started = time.perf_counter()
    for first in range(0, len(chunks), together):
        if together == 1:
            recipe({"image": chunks[first]})
        else:
            recipe.map([{"image": chunk} for chunk in chunks[first : first + together]])
    seconds = time.perf_counter() - started
else:
    from vizcore.datasets.recipe import IndexRecipe
    if kind == "local":
        # Warm, untimed as for the bare pass: the model's folded copy and the traced batch, which build_index reuses.
        IndexRecipe(model, settings.layers, batch_size)({"image": np.zeros((batch_size, 224, 224, 3), np.uint8)})
    kind = "local" if kind == "local-cold" else kind
    if kind == "ray":
        import ray
        ray.init(num_cpus=max(2, actors + 1), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    marks = []  # (seconds since the start, shards done) after each shard
    started = time.perf_counter()
    summary = build_index(data, out, model, settings, engine=kind, ray_actors=actors,
                          progress=lambda done, total: marks.append((time.perf_counter() - started, done)))
    seconds, count = summary.seconds, summary.images
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
record = {"images": count, "seconds": round(seconds, 3), "images_per_second": round(count / seconds, 2),
          "peak_rss_mb": round(peak_mb, 1)}
if not kind.startswith("bare") and len(marks) > 2:
    # Steady state: from the first shard written to the last (start-up and the final merge left out).
    steady_images = count - SHARD  # every image after the first shard (the generated files all decode)
    record.update(first_shard_seconds=round(marks[0][0], 3),
                  steady_images_per_second=round(steady_images / (marks[-1][0] - marks[0][0]), 2))
elif kind.startswith("bare"):
    record["steady_images_per_second"] = record["images_per_second"]
print(json.dumps(record))
"""


def write_dataset(folder: Path, count: int, side: int, seed: int = 0) -> Path:
    import cv2

    import vizcore

    rng = np.random.default_rng(seed)
    photos = [vizcore.load_sample(name) for name in vizcore.SAMPLE_NAMES]
    for number in range(count):
        photo = photos[number % len(photos)]
        height, width = photo.shape[:2]
        crop_h, crop_w = int(height * rng.uniform(0.5, 1)), int(width * rng.uniform(0.5, 1))
        top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
        image = photo[top : top + crop_h, left : left + crop_w]
        image = image[:, ::-1] if rng.random() < 0.5 else image
        scale = side / max(image.shape[:2])
        image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))))
        target = folder / f"class{number % CLASSES}" / f"{number:06d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def subset(folder: Path, count: int, into: Path) -> Path:
    """The first ``count`` images of ``folder`` as links in a new folder, so the sizes share one set of files."""
    files = sorted(folder.rglob("*.jpg"))[:count]
    for path in files:
        target = into / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    return into


def run(kind: str, data: Path, out: Path, count: int, batch_size: int, actors: int = 1, timeout: int = 3600) -> dict:
    result = subprocess.run([sys.executable, "-c", SUBJECT, kind, str(data), str(out), str(count), str(batch_size),
                             str(actors)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _steady_ratio(subject: dict, baseline: dict):
    if "steady_images_per_second" not in subject or "steady_images_per_second" not in baseline:
        return None
    return round(subject["steady_images_per_second"] / baseline["steady_images_per_second"], 3)


def _images_for_ratio(subject: dict, baseline: dict, ratio: float):
    """The dataset size at which ``subject`` reaches ``ratio`` of ``baseline``'s throughput, modelling each run as a
    fixed start-up plus images at its steady rate; None when its steady rate never gets there."""
    def start_up(run):
        return run["first_shard_seconds"] - SHARD / run["steady_images_per_second"]

    try:
        slope = 1 / baseline["steady_images_per_second"] / ratio - 1 / subject["steady_images_per_second"]
        if slope <= 0:
            return None
        return max(0, round((start_up(subject) - start_up(baseline) / ratio) / slope))
    except KeyError:
        return None


def _ray_comparison(data: Path, out: Path, count: int, batch_size: int) -> dict:
    local = run("local-cold", data, out / "local", count, batch_size)
    actors = {n: run("ray", data, out / f"actors{n}", count, batch_size, n) for n in (1, 2)}
    return {"local_engine": local,
            **{f"actors_{n}": result for n, result in actors.items()},
            **{f"ratio_actors_{n}": round(result["images_per_second"] / local["images_per_second"], 3)
               for n, result in actors.items()},
            **{f"steady_ratio_actors_{n}": _steady_ratio(result, local) for n, result in actors.items()},
            **{f"images_for_target_actors_{n}": _images_for_ratio(result, local, 0.7) for n, result in actors.items()},
            "target": 0.7}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--throughput", type=int, default=1000, help="images for the throughput comparison")
    # Each actor's start (process, TensorFlow import, model load, trace: about 8 s on 2 cores) is paid once per run,
    # so on a few thousand images it is much of Ray's time (reported apart as first_shard_seconds); 10000 is the
    # memory run's dataset, a size Ray is meant for, and 2000 shows the start-up's weight.
    parser.add_argument("--ray", default="2000,10000", help="dataset sizes for the Ray comparison, comma-separated (0: skip)")
    parser.add_argument("--pairs", type=int, default=3, help="bare and local runs in turn for local_vs_bare; the median")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--side", type=int, default=480)
    args = parser.parse_args()
    ray_sizes = [int(size) for size in args.ray.split(",") if int(size)]
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="vizcore-bench-index-") as work:
        work = Path(work)
        largest = max(args.small, args.large, args.throughput, *ray_sizes)
        started = time.perf_counter()
        pool = write_dataset(work / "pool", largest, args.side)
        written = round(time.perf_counter() - started, 1)
        sets = {count: subset(pool, count, work / f"set{count}")
                for count in {args.small, args.large, args.throughput, *ray_sizes} if count}
        pairs = []  # bare and local in turn, so both see the same stretch of the machine's load
        for number in range(args.pairs):
            bare = run("bare", sets[args.throughput], work / "unused", args.throughput, args.batch_size)
            local = run("local", sets[args.throughput], work / f"local{number}", args.throughput, args.batch_size)
            pairs.append({"bare_forward": bare, "local_engine": local,
                          "ratio": round(local["images_per_second"] / bare["images_per_second"], 3),
                          "steady_ratio": _steady_ratio(local, bare)})
        middle = sorted(pairs, key=lambda pair: pair["ratio"])[len(pairs) // 2]
        bare, local = middle["bare_forward"], middle["local_engine"]
        bare_side_by_side = run("bare-side-by-side", sets[args.throughput], work / "unused", args.throughput,
                                args.batch_size)
        small = run("local", sets[args.small], work / "small", args.small, args.batch_size)
        large = run("local", sets[args.large], work / "large", args.large, args.batch_size)
        report = {
            "environment": run_environment(load),
            "dataset": {"images": largest, "side_px": args.side, "classes": CLASSES, "seconds_to_write": written},
            "local_vs_bare": {"bare_forward": bare, "local_engine": local,
                              "ratio": middle["ratio"], "steady_ratio": middle["steady_ratio"], "target": 0.85,
                              "ratios": [pair["ratio"] for pair in pairs], "pairs": pairs,
                              "bare_side_by_side": bare_side_by_side,
                              "ratio_to_bare_side_by_side": round(local["images_per_second"]
                                                                  / bare_side_by_side["images_per_second"], 3)},
            "peak_rss": {"small": small, "large": large,
                         "growth_mb": round(large["peak_rss_mb"] - small["peak_rss_mb"], 1), "limit_mb": 150},
        }
        for size in ray_sizes:
            report[f"ray_{size}"] = _ray_comparison(sets[size], work / f"ray-{size}", size, args.batch_size)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
