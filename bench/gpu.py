"""Every benchmark at GPU sizes, with XLA and mixed precision off and on, in one run and one JSON report.

For a machine with a GPU that is lent for a few minutes: one command records every GPU figure.
``python bench/gpu.py > gpu.json`` (capped by ``--budget``, default 450 s, so under 8 minutes
with start-up; each configuration gets an equal share of what is left). It needs the project's
environment there: TensorFlow with its CUDA libraries, and bench/requirements.txt.
``--cpu-smoke`` runs the same plumbing at tiny sizes on a CPU, to know it works before a GPU is
lent (about 15 minutes on 2 busy cores with ``--budget 900``: XLA compiling for a CPU is slow).

What runs: the other bench scripts' own ``measure(argv)`` functions (each script's claim, baseline
and JSON record, unchanged), with GPU-sized arguments:

- ``filters``: both parts (16-channel gallery batched vs one at a time; time to quality of the
  default recipe vs the former 256-step one), 128 px;
- ``dream``: DeepDream steps at 1024 px against the TensorFlow tutorial's tiled loop;
- ``style``: style-transfer steps at 512 px against the TensorFlow tutorial's loop;
- ``occlusion``: Captum's 15 px / stride 8 setting (784 patches), the all-at-once baseline
  predicting in batches of 64;
- ``gradcam`` and ``predictions``: warm latencies against tf-keras-vis and ``model.predict``.

Each runs under four configurations, each in its own child process, because both switches are
process-wide and must be set before TensorFlow or Keras builds anything:

- ``float32``: as vizcore runs by default;
- ``xla``: ``TF_XLA_FLAGS=--tf_xla_auto_jit=2`` (TensorFlow clusters the ops of every traced
  function it can compile with XLA; ops XLA lacks, such as the projective transform of the
  filter gallery, stay outside the clusters);
- ``mixed``: the Keras ``mixed_float16`` dtype policy set before the model is built (float16
  compute, float32 weights); vizcore itself does not set it, so an error here is a finding;
- ``xla+mixed``: both.

The policy reaches the occlusion script's own child processes through a ``sitecustomize`` module
that this script puts first on their ``PYTHONPATH`` (it sets the policy when
``VIZCORE_BENCH_DTYPE_POLICY`` is set, and does nothing otherwise).

Every benchmark's record, or its error in one line, is streamed back as it finishes, so a
configuration cut short by its share of the budget still reports what it finished. Output: one
JSON object: the device, each configuration's flags and benchmark records with their wall
seconds, a ``summary`` of the headline figures side by side, and the total seconds.

Run: ``cd /work/main && .venv/bin/python bench/gpu.py [--cpu-smoke] [--budget S] [--configs float32,xla,...]
[--benchmarks filters,dream,...]``
"""

import os
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH_DIR))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

DEFAULT_BUDGET_S = 450  # under the 8 minutes a lent GPU run is sized for, with room for start-up
POLICY_VARIABLE = "VIZCORE_BENCH_DTYPE_POLICY"
XLA_AUTO_JIT = "--tf_xla_auto_jit=2"
XLA_ON_CPU = "--tf_xla_cpu_global_jit"  # auto-clustering skips CPU ops unless asked: the smoke run asks
RECORD_PREFIX = "GPU-BENCH-RECORD "  # marks the child's result lines among anything else it prints

CONFIGS = {
    "float32": {"xla": False, "policy": None},
    "xla": {"xla": True, "policy": None},
    "mixed": {"xla": False, "policy": "mixed_float16"},
    "xla+mixed": {"xla": True, "policy": "mixed_float16"},
}

# Benchmark -> (argv at GPU sizes, argv for the CPU smoke run). Each is bench/<name>.py's measure(argv).
BENCHMARKS = {
    "filters": (["--size", "128", "--repeats", "2", "--rounds", "1"],
                ["--size", "64", "--channels", "4", "--steps", "2", "--repeats", "1", "--rounds", "1", "--every", "32"]),
    "dream": (["--size", "1024", "--steps", "10", "--repeats", "3"], ["--size", "128", "--steps", "2", "--repeats", "1"]),
    "style": (["--size", "512", "--steps", "30", "--repeats", "3"], ["--size", "64", "--steps", "2", "--repeats", "1"]),
    "occlusion": (["--settings", "15/8", "--repeats", "2", "--batch-size", "64"],
                  ["--settings", "112/112", "--repeats", "1", "--batch-size", "64"]),
    "gradcam": (["--repeats", "10"], ["--repeats", "2"]),
    "predictions": (["--repeats", "3"], ["--repeats", "1"]),
}

# The headline figures of each record, for the side-by-side summary: name -> path into the record.
HEADLINES = {
    "filters": {
        "batched_images_per_second": ("batching", "vizcore", "images_per_second"),
        "batching_throughput_ratio": ("batching", "throughput_ratio"),
        "time_to_quality_ratio": ("time_to_quality", "time_to_quality_ratio"),
        "activation_ratio_min": ("time_to_quality", "activation_ratio_min"),
    },
    "dream": {"vizcore_step_ms": ("vizcore_step_ms",), "speedup": ("speedup",)},
    "style": {"vizcore_steps_per_second": ("vizcore_steps_per_second",), "speedup": ("speedup",)},
    "occlusion": {
        "vizcore_median_ms": ("settings", 0, "vizcore", "time", "median_ms"),
        "time_ratio": ("settings", 0, "time_ratio"),
        "memory_ratio": ("settings", 0, "memory_ratio"),
    },
    "gradcam": {"time_ratio": ("time_ratio",), "map_correlation": ("map_correlation",)},
    "predictions": {"speedup_uncached": ("speedup_uncached",), "speedup_cache_hit": ("speedup_cache_hit",)},
}

SITECUSTOMIZE = f'''import os
if os.environ.get("{POLICY_VARIABLE}"):
    import keras
    keras.mixed_precision.set_global_policy(os.environ["{POLICY_VARIABLE}"])
'''


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes, on whatever device there is")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds for all configurations together")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated, of " + ", ".join(CONFIGS))
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS), help="comma-separated, of " + ", ".join(BENCHMARKS))
    parser.add_argument("--child", choices=tuple(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    args.benchmarks = [name.strip() for name in args.benchmarks.split(",") if name.strip()]
    unknown = sorted(set(args.configs) - set(CONFIGS)) + sorted(set(args.benchmarks) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown configuration or benchmark: {', '.join(unknown)}")
    return args


def run_child(args):
    """In this process, configured as ``args.child``: each benchmark's record (or error) as one line, as it finishes."""
    policy = CONFIGS[args.child]["policy"]
    if policy:
        import keras

        keras.mixed_precision.set_global_policy(policy)
    for name in args.benchmarks:
        gpu_argv, smoke_argv = BENCHMARKS[name]
        start = time.perf_counter()
        record = {"benchmark": name}
        try:
            module = importlib.import_module(name)  # bench/<name>.py: this script's folder is on sys.path
            record["report"] = module.measure(smoke_argv if args.cpu_smoke else gpu_argv)
        except BaseException as error:  # noqa: BLE001  (SystemExit too: one benchmark's failure is a finding, not the end)
            if isinstance(error, KeyboardInterrupt):
                raise
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            record["error"] = f"{type(error).__name__}: {' | '.join(lines)}"[:800]
            record["where"] = traceback.format_tb(error.__traceback__)[-1].strip().splitlines()[0][:300]
        record["seconds"] = round(time.perf_counter() - start, 1)
        print(RECORD_PREFIX + json.dumps(record), flush=True)


def launch(config, args, seconds, site_folder):
    """Run one configuration's child for at most ``seconds``: its records, and whether it was cut short."""
    environment = dict(os.environ)
    flags = [environment.get("TF_XLA_FLAGS", "")]
    if CONFIGS[config]["xla"]:
        flags += [XLA_AUTO_JIT] + ([XLA_ON_CPU] if args.cpu_smoke else [])
    environment["TF_XLA_FLAGS"] = " ".join(flag for flag in flags if flag)
    if CONFIGS[config]["policy"]:
        environment[POLICY_VARIABLE] = CONFIGS[config]["policy"]
    else:
        environment.pop(POLICY_VARIABLE, None)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [site_folder, environment.get("PYTHONPATH")]))
    command = [sys.executable, os.path.abspath(__file__), "--child", config, "--benchmarks", ",".join(args.benchmarks)]
    if args.cpu_smoke:
        command.append("--cpu-smoke")
    child = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records, errors = [], []
    readers = [
        threading.Thread(target=lambda: records.extend(
            json.loads(line[len(RECORD_PREFIX):]) for line in child.stdout if line.startswith(RECORD_PREFIX)
        )),
        threading.Thread(target=lambda: errors.extend(child.stderr)),
    ]
    for reader in readers:
        reader.start()
    try:
        child.wait(timeout=max(seconds, 1.0))
        cut_short = False
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        cut_short = True
    for reader in readers:
        reader.join()
    return {
        "tf_xla_flags": environment["TF_XLA_FLAGS"],
        "dtype_policy": CONFIGS[config]["policy"] or "float32",
        "exit_code": child.returncode,
        "cut_short_by_budget": cut_short,
        "seconds_allowed": round(seconds, 1),
        "benchmarks": {record.pop("benchmark"): record for record in records},
        "stderr_tail": "".join(errors)[-1500:] if child.returncode else "",
    }


def headline(record, path):
    value = record.get("report")
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def summary(configs):
    """Benchmark -> figure -> configuration -> value (None where it errored or did not run)."""
    table = {}
    for benchmark, figures in HEADLINES.items():
        for figure, path in figures.items():
            row = {
                config: headline(result["benchmarks"].get(benchmark, {}), path)
                for config, result in configs.items()
            }
            if any(value is not None for value in row.values()):
                table.setdefault(benchmark, {})[figure] = row
    return table


def main():
    args = parse_args()
    if args.child:
        run_child(args)
        return 0
    start = time.perf_counter()
    from harness import load_average, run_environment

    load_at_start = load_average()
    environment = run_environment(load_at_start)  # in this process: the device every child sees
    if not args.cpu_smoke and not environment["device"].startswith("GPU"):
        # `make bench` runs every script: on a machine without a GPU this one has nothing to measure.
        print(json.dumps({"claim": "every benchmark at GPU sizes", **environment,
                          "skipped": "no GPU found; --cpu-smoke runs the same plumbing at tiny sizes"}, indent=2))
        return 0
    configs = {}
    with tempfile.TemporaryDirectory(prefix="vizcore-gpu-bench-") as site_folder:
        with open(os.path.join(site_folder, "sitecustomize.py"), "w") as file:
            file.write(SITECUSTOMIZE)
        for index, config in enumerate(args.configs):
            left = args.budget - (time.perf_counter() - start)
            share = left / (len(args.configs) - index)  # what an earlier configuration leaves, a later one gets
            configs[config] = launch(config, args, share, site_folder)
    errors = {
        f"{config}/{benchmark}": record["error"]
        for config, result in configs.items() for benchmark, record in result["benchmarks"].items() if "error" in record
    }
    report = {
        "claim": "every benchmark at GPU sizes, XLA and mixed precision off and on, in one run",
        "cpu_smoke": args.cpu_smoke,
        **environment,
        "budget_seconds": args.budget,
        "total_seconds": round(time.perf_counter() - start, 1),
        "summary": summary(configs),
        "errors": errors,
        "configs": configs,
    }
    print(json.dumps(report, indent=2))
    complete = all(not result["cut_short_by_budget"] and len(result["benchmarks"]) == len(args.benchmarks)
                   for result in configs.values())
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
