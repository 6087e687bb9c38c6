"""Claim (issue #5): vizcore's style transfer takes at least 1.5x as many steps per second as the TF tutorial's loop.

Content: the chelsea sample; style: the immunohistochemistry sample; both scaled so the longer side
is ``--size`` px (256 by default; the tutorial uses 512). Model: the embedded EfficientNet-Lite0
with its presets ``spec.presets.style_layers`` (5 layers, ``stem_relu`` to ``stage5_block3_add``) and
``spec.presets.content_layer`` (``stage5_block3_add``).

Subject: ``vizcore.style.transfer_style`` starting from the content image: each step is one traced
function (sigmoid pixel parameterisation, the batch-norm-folded feature model, scale-free Gram and
feature distances, total variation, an Adam update on tensors). Steps per second = steps done /
the run's own clock (``StyledImage.seconds``, the optimisation loop without the target
computation before it and the distance report after it).

Baseline: the TensorFlow style-transfer tutorial's loop, faithfully: a plain
``keras.Model(model.inputs, [layer outputs])`` wrapped in ``StyleContentModel`` (inputs in 0..1
times 255, the model's preprocessing, Gram matrices by ``tf.linalg.einsum`` divided by the number of
positions, content features as they are), a ``tf.Variable`` image starting at the content image,
``Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)``, and a ``@tf.function train_step`` that adds
style (weight 1e-2 / number of style layers), content (1e4) and ``tf.image.total_variation`` (30)
losses, applies the gradient and clips the image to 0..1. Steps per second = steps / wall seconds
of the ``train_step`` loop, ending with the image fetched. The embedded model's input is fixed at
224 px, so the baseline's model is cut from a plain ``keras.models.clone_model`` copy that accepts
any size (same weights, batch norms kept), as VGG19 with ``include_top=False`` does in the tutorial.

Both sides trace and run untimed first; then ``--repeats`` rounds alternate a vizcore run and a
baseline run of ``--steps`` steps each, and the medians are reported, so drift in machine load
hits both alike.

Output: one JSON object with steps per second and ms per step of each side, ``speedup`` =
vizcore steps/s / baseline steps/s (target at least 1.5; wall time), and the same ratio in process
CPU time (``speedup_in_cpu_time``: less swayed by other work on a shared machine, and counting
vizcore's target computation and final distance report against it).

Run: ``cd /work/main && .venv/bin/python bench/style.py [--steps N] [--size PX] [--repeats R]``
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from harness import any_size_copy, load_average, run_environment  # noqa: E402  (bench/harness.py)

MODEL_NAME = "efficientnet_lite0"
CONTENT_SAMPLE = "chelsea"
STYLE_SAMPLE = "immunohistochemistry"
DEFAULT_SIZE = 256
DEFAULT_STEPS = 30
DEFAULT_REPEATS = 3
WARMUP_STEPS = 2
TARGET_SPEEDUP = 1.5
SEED = 0

# TF tutorial recipe constants
TUTORIAL_LEARNING_RATE = 0.02
TUTORIAL_BETA_1 = 0.99
TUTORIAL_EPSILON = 1e-1
TUTORIAL_STYLE_WEIGHT = 1e-2
TUTORIAL_CONTENT_WEIGHT = 1e4
TUTORIAL_TOTAL_VARIATION_WEIGHT = 30


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="timed steps per run, both sides")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="longer side of the images in px")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="interleaved rounds; medians are reported")
    return parser.parse_args(argv)



def tutorial_style_transfer(keras_model, preprocessing, style_layers, content_layers, content_image, style_image):
    """The TF tutorial's style transfer; returns ``run_steps(steps)`` (and the image variable)."""
    import keras
    import tensorflow as tf

    base_model = any_size_copy(keras_model)

    def model_layers(layer_names):
        outputs = [base_model.get_layer(name).output for name in layer_names]
        return keras.Model([base_model.input], outputs)

    def gram_matrix(input_tensor):
        result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
        input_shape = tf.shape(input_tensor)
        num_locations = tf.cast(input_shape[1] * input_shape[2], tf.float32)
        return result / num_locations

    class StyleContentModel(keras.Model):
        def __init__(self, style_layers, content_layers):
            super().__init__()
            self.features = model_layers(style_layers + content_layers)
            self.style_layers = style_layers
            self.content_layers = content_layers
            self.num_style_layers = len(style_layers)
            self.features.trainable = False

        def call(self, inputs):
            """Expects float input in [0, 1]."""
            inputs = inputs * 255.0
            preprocessed_input = preprocessing.to_model(inputs)
            outputs = self.features(preprocessed_input)
            style_outputs, content_outputs = outputs[: self.num_style_layers], outputs[self.num_style_layers :]
            style_outputs = [gram_matrix(style_output) for style_output in style_outputs]
            content_dict = dict(zip(self.content_layers, content_outputs))
            style_dict = dict(zip(self.style_layers, style_outputs))
            return {"content": content_dict, "style": style_dict}

    extractor = StyleContentModel(list(style_layers), list(content_layers))
    style_targets = extractor(tf.constant(style_image))["style"]
    content_targets = extractor(tf.constant(content_image))["content"]
    image = tf.Variable(content_image)
    opt = keras.optimizers.Adam(learning_rate=TUTORIAL_LEARNING_RATE, beta_1=TUTORIAL_BETA_1, epsilon=TUTORIAL_EPSILON)
    num_style_layers, num_content_layers = len(style_layers), len(content_layers)

    def clip_0_1(values):
        return tf.clip_by_value(values, clip_value_min=0.0, clip_value_max=1.0)

    def style_content_loss(outputs):
        style_outputs = outputs["style"]
        content_outputs = outputs["content"]
        style_loss = tf.add_n(
            [tf.reduce_mean((style_outputs[name] - style_targets[name]) ** 2) for name in style_outputs]
        )
        style_loss *= TUTORIAL_STYLE_WEIGHT / num_style_layers
        content_loss = tf.add_n(
            [tf.reduce_mean((content_outputs[name] - content_targets[name]) ** 2) for name in content_outputs]
        )
        content_loss *= TUTORIAL_CONTENT_WEIGHT / num_content_layers
        return style_loss + content_loss

    @tf.function()
    def train_step(image):
        with tf.GradientTape() as tape:
            outputs = extractor(image)
            loss = style_content_loss(outputs)
            loss += TUTORIAL_TOTAL_VARIATION_WEIGHT * tf.image.total_variation(image)
        grad = tape.gradient(loss, image)
        opt.apply_gradients([(grad, image)])
        image.assign(clip_0_1(image))

    def run_steps(steps):
        for _ in range(steps):
            train_step(image)
        return image.numpy()  # the tutorial shows the image: the work must be finished

    return run_steps


def vizcore_step_seconds(loaded, content, style_pixels, size, steps):
    """(wall, CPU) seconds per step and the result; CPU time covers the whole call (targets included)."""
    from vizcore import style

    settings = style.StyleSettings(size=size, steps=steps, seed=SEED)
    cpu_start = time.process_time()
    result = style.transfer_style(loaded, content, [style_pixels], settings=settings)
    cpu = time.process_time() - cpu_start
    return result.seconds / result.steps_done, cpu / result.steps_done, result


def baseline_step_seconds(run_steps, steps):
    """(wall, CPU) seconds per step of the tutorial's loop."""
    start, cpu_start = time.perf_counter(), time.process_time()
    run_steps(steps)
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu_start) / steps


def measure(argv=None):
    """The JSON record (main prints it; bench/gpu.py calls this)."""
    args = parse_args(argv)
    load_at_start = load_average()

    import vizcore
    from vizcore import style

    loaded = vizcore.load_model(MODEL_NAME)
    presets = loaded.spec.presets
    content = vizcore.load_sample(CONTENT_SAMPLE)
    style_pixels = vizcore.load_sample(STYLE_SAMPLE)
    content_image = style.resized(content, args.size)[None]  # 1 x H x W x 3, 0..1, as vizcore sizes it
    style_image = style.resized(style_pixels, args.size)[None]
    run_steps = tutorial_style_transfer(
        loaded.keras_model, loaded.spec.preprocessing, presets.style_layers, (presets.content_layer,),
        content_image, style_image,
    )

    vizcore_step_seconds(loaded, content, style_pixels, args.size, WARMUP_STEPS)  # untimed: traces
    run_steps(WARMUP_STEPS)  # untimed: traces and builds Adam's slots
    vizcore_times, baseline_times, vizcore_cpu, baseline_cpu, last = [], [], [], [], None
    for _ in range(args.repeats):
        wall, cpu, last = vizcore_step_seconds(loaded, content, style_pixels, args.size, args.steps)
        vizcore_times.append(wall)
        vizcore_cpu.append(cpu)
        wall, cpu = baseline_step_seconds(run_steps, args.steps)
        baseline_times.append(wall)
        baseline_cpu.append(cpu)
    vizcore_step, baseline_step = float(np.median(vizcore_times)), float(np.median(baseline_times))
    speedup = baseline_step / vizcore_step
    cpu_speedup = float(np.median(baseline_cpu)) / float(np.median(vizcore_cpu))
    report = {
        "claim": "style transfer: steps per second, vizcore vs the TF tutorial's train_step loop",
        "model": MODEL_NAME,
        **run_environment(load_at_start),
        "style_layers": list(presets.style_layers),
        "content_layer": presets.content_layer,
        "image_px": list(content_image.shape[1:3]),
        "steps_per_run": args.steps,
        "rounds": args.repeats,
        "vizcore_steps_per_second": round(1.0 / vizcore_step, 2),
        "baseline_tutorial_steps_per_second": round(1.0 / baseline_step, 2),
        "vizcore_step_ms": round(vizcore_step * 1000.0, 2),
        "baseline_tutorial_step_ms": round(baseline_step * 1000.0, 2),
        "vizcore_step_ms_per_round": [round(value * 1000.0, 2) for value in vizcore_times],
        "baseline_step_ms_per_round": [round(value * 1000.0, 2) for value in baseline_times],
        "speedup": round(speedup, 2),
        "vizcore_cpu_ms_per_step": round(float(np.median(vizcore_cpu)) * 1000.0, 2),
        "baseline_tutorial_cpu_ms_per_step": round(float(np.median(baseline_cpu)) * 1000.0, 2),
        "speedup_in_cpu_time": round(cpu_speedup, 2),
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": bool(speedup >= TARGET_SPEEDUP),
        "vizcore_last_run_losses": {
            "content": round(last.content_loss, 4), "style": round(last.style_loss, 4), "tv": round(last.tv_loss, 4),
        },
    }
    return report


def main():
    print(json.dumps(measure(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
