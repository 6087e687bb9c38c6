"""Claim: a warm sanity check costs about one map per randomised depth, and repeated checks reuse their copies.

For every method in the table at its defaults, on the embedded model and a sample photo: the
warm map's seconds (baseline: the method's second call), the warm sanity check's seconds
(``vizcore.attribution.sanity_check`` with the original map passed in, its randomised copies
already built), ``cost_per_depth_in_maps`` = check / (depths x map) (target: at most
``MAX_COST_PER_DEPTH``; judged only for maps of ``MIN_TIMED_MAP_S`` or more, as a cheaper map's
time is mostly fixed per-call overhead and load noise), the Spearman correlation at each depth
and the verdict.

Then memory (RSS from /proc/self/status) over ``--checks`` repeated Grad-CAM checks, one class
after another: with the copies kept in ``loaded.derived`` (vizcore's design) RSS must stay within
``MAX_GROWTH_MB`` after the first check built them; and, for comparison, ``--rebuilt`` checks
whose copies are dropped after each, as a build-per-call design would (``rebuild_ratio``: seconds
per rebuilt check over seconds per kept check).

Run: ``cd /work/main && .venv/bin/python bench/sanity.py [--sample chelsea] [--checks 10] [--rebuilt 3]``
Prints one JSON object; exits 1 when a check costs more than its target or memory grows.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from harness import load_average, run_environment  # noqa: E402  (bench/harness.py)

MODEL_NAME = "efficientnet_lite0"
MAX_GROWTH_MB = 30  # RSS allowed to grow over the repeated checks once the copies exist
MAX_COST_PER_DEPTH = 2.0  # a randomised map may cost up to twice the original's (noise on a busy machine)
MIN_TIMED_MAP_S = 0.5
CLASSES = (285, 281, 282, 283, 284)  # cats: each check a new class, the same copies


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def method_rows(model, pixels, sanity, attribution) -> list[dict]:
    rows = []
    for name in attribution.METHOD_TABLE:
        attribution.explain(model, pixels, name)  # warm-up: traces
        start = time.perf_counter()
        original = attribution.explain(model, pixels, name)
        map_seconds = time.perf_counter() - start
        sanity.sanity_check(model, pixels, name, original=original)  # warm-up: the copies' traces
        check = sanity.sanity_check(model, pixels, name, original=original)
        depths = len(check.correlations)
        rows.append({
            "method": name, "label": original.label, "layer": original.layer,
            "spearman": [row["spearman"] for row in check.correlations], "passes": check.passes,
            "map_s": round(map_seconds, 2), "check_s": round(check.seconds, 2),
            "cost_per_depth_in_maps": round(check.seconds / depths / max(map_seconds, 1e-3), 2),
            "judged": map_seconds >= MIN_TIMED_MAP_S,
        })
    return rows


def memory_rows(model, pixels, sanity, checks: int, rebuilt: int) -> dict:
    before = rss_mb()
    kept = []
    for index in range(checks):
        start = time.perf_counter()
        sanity.sanity_check(model, pixels, "gradcam", class_index=CLASSES[index % len(CLASSES)])
        kept.append({"seconds": round(time.perf_counter() - start, 2), "rss_mb": round(rss_mb())})
    dropped = []
    for index in range(rebuilt):
        model.derived._randomised.clear()
        gc.collect()
        start = time.perf_counter()
        sanity.sanity_check(model, pixels, "gradcam", class_index=CLASSES[index % len(CLASSES)])
        dropped.append({"seconds": round(time.perf_counter() - start, 2), "rss_mb": round(rss_mb())})
    warm = [row["seconds"] for row in kept[1:]] or [kept[0]["seconds"]]
    return {
        "rss_before_mb": round(before),
        "kept": kept,
        "kept_growth_after_first_mb": kept[-1]["rss_mb"] - kept[0]["rss_mb"],
        "rebuilt": dropped,
        "rebuild_ratio": round(sum(row["seconds"] for row in dropped) / max(len(dropped), 1) / (sum(warm) / len(warm)), 1)
        if dropped else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="chelsea", help="bundled photo (default chelsea)")
    parser.add_argument("--checks", type=int, default=10, help="repeated checks for the memory figure (default 10)")
    parser.add_argument("--rebuilt", type=int, default=3, help="checks with their copies rebuilt (default 3)")
    args = parser.parse_args(argv)
    load_at_start = load_average()

    import vizcore
    from vizcore import attribution
    from vizcore.attribution import sanity

    model = vizcore.load_model(MODEL_NAME)
    pixels = vizcore.load_sample(args.sample)
    start = time.perf_counter()
    for depth in sanity.randomisation_depths(model):
        sanity.randomised_model(model, depth)
    build_seconds = time.perf_counter() - start
    rows = method_rows(model, pixels, sanity, attribution)
    memory = memory_rows(model, pixels, sanity, args.checks, args.rebuilt)
    report = {
        "environment": run_environment(load_at_start),
        "model": MODEL_NAME, "sample": args.sample,
        "build_copies_s": round(build_seconds, 1),
        "methods": rows,
        "memory": memory,
        "load_average_1m_at_end": load_average(),
    }
    print(json.dumps(report, indent=2))
    too_slow = [row["method"] for row in rows if row["judged"] and row["cost_per_depth_in_maps"] > MAX_COST_PER_DEPTH]
    grew = memory["kept_growth_after_first_mb"] > MAX_GROWTH_MB
    if too_slow or grew:
        print(f"too slow: {too_slow}; memory grew: {grew}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
