"""Requests from many threads batched into one model call, and the model's turns: quick before long, long in turn."""

import threading
import time

import numpy as np
import pytest
import tensorflow as tf

import vizcore
from vizcore import attribution, dream, predictions
from vizcore.attribution.cam import features_and_gradients
from vizcore.attribution.common import NO_CONTRAST, image_batch, scores
from vizcore.models.batching import BUCKETS, Batcher, Turns, bucket

SAMPLES = ("chelsea", "coffee", "astronaut", "rocket")
LAYER = "head_relu"  # the embedded model's Grad-CAM layer
JOIN_S = 120


@pytest.fixture(scope="module")
def eight_images(embedded_model):
    """Eight different model-space images: four samples and their mirror images."""
    batches = [image_batch(embedded_model, vizcore.load_sample(name)).numpy() for name in SAMPLES]
    return np.concatenate(batches + [batch[:, :, ::-1] for batch in batches])


def _in_threads(count, work):
    """``work(number)`` in ``count`` threads started together; their results in order, or the first error raised."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(number):
        try:
            barrier.wait(timeout=JOIN_S)
            results[number] = work(number)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_S)
    if errors:
        raise errors[0]
    return results


def test_concurrent_requests_share_a_batch_and_each_gets_its_own_rows(embedded_model, eight_images):
    view = embedded_model.derived.attribution((LAYER,))
    alone = [embedded_model.call(scores, tf.constant(image[None]), view=view) for image in eight_images]
    classes = [int(np.argmax(row)) for row in np.concatenate(alone)]
    assert len(set(classes)) > 2  # the requests explain different classes
    expected = [
        embedded_model.call(features_and_gradients, LAYER, tf.constant(image[None]), tf.constant(class_index),
                            tf.constant(NO_CONTRAST), view=view)
        for image, class_index in zip(eight_images, classes)
    ]
    batcher = Batcher(Turns(), window=0.2)  # long enough for all eight threads to join one batch

    def request(number):
        rows = (eight_images[number][None], np.array([classes[number]], np.int32), np.array([NO_CONTRAST], np.int32))
        return batcher.run(view, features_and_gradients, (LAYER,), rows)

    results = _in_threads(8, request)
    assert max(batcher.batch_sizes) > 1, list(batcher.batch_sizes)  # batched, not eight calls in a row
    for (features, gradients), (want_features, want_gradients) in zip(results, expected):
        assert features.shape == want_features.shape and gradients.shape == want_gradients.shape
        np.testing.assert_allclose(features, want_features, rtol=1e-4, atol=1e-4)
        scale = np.abs(want_gradients).max()
        np.testing.assert_allclose(gradients, want_gradients, rtol=1e-3, atol=1e-4 * scale)


class _RecordingView:
    """A view whose traced functions note the batch size of every call before running it."""

    def __init__(self, view):
        self.view, self.batch_sizes = view, []

    def traced(self, python_function):
        function = self.view.traced(python_function)

        def run(*args):
            self.batch_sizes.append(int(args[-1].shape[0]))
            return function(*args)

        return run


def test_batches_are_padded_to_buckets_so_odd_sizes_share_traces(embedded_model, eight_images):
    view = _RecordingView(embedded_model.derived.attribution())
    batcher = Batcher(Turns(), window=0.0)
    expected = np.asarray(embedded_model.call(scores, tf.constant(eight_images), view=view.view))
    for rows in (3, 4, 5, 7):
        result = batcher.run(view, scores, (), (eight_images[:rows],))
        assert result.shape == (rows, expected.shape[1])
        np.testing.assert_allclose(result, expected[:rows], rtol=1e-4, atol=1e-4)
    assert view.batch_sizes == [3, 4, 6, 8]
    assert list(batcher.batch_sizes) == [3, 4, 5, 7]
    assert [bucket(rows) for rows in (1, 3, 5, 9, 17, 32)] == [1, 3, 6, 12, 24, 32] and BUCKETS[-1] == 32


def test_a_lone_caller_does_not_wait_for_company(embedded_model, eight_images):
    view = embedded_model.derived.attribution()
    batcher = Batcher(Turns(), window=1.0)
    start = time.perf_counter()
    for image in eight_images[:3]:
        batcher.run(view, scores, (), (image[None],))
    assert time.perf_counter() - start < 1.0  # no request of one thread waited the window


def test_an_error_reaches_every_request_of_its_batch(embedded_model, eight_images):
    view = embedded_model.derived.attribution()
    batcher = Batcher(Turns(), window=0.2)

    def request(number):
        try:
            batcher.run(view, features_and_gradients, ("no_such_layer",),
                        (eight_images[number][None], np.zeros(1, np.int32), np.full(1, NO_CONTRAST, np.int32)))
        except Exception as error:  # the traced function fails on the unknown output
            return type(error).__name__
        return None

    assert all(_in_threads(3, request))


def test_a_quick_request_runs_beside_the_step_in_progress_and_steps_take_turns():
    turns = Turns()
    order, started = [], threading.Event()

    in_step = []  # the steps running now
    quick_saw = []

    def long_run(name, steps):
        for _ in range(steps):
            with turns.step():
                order.append(name)
                in_step.append(name)
                started.set()
                time.sleep(0.05)
                in_step.remove(name)

    def quick():
        with turns:
            order.append("quick")
            quick_saw.extend(in_step)

    first = threading.Thread(target=long_run, args=("a", 3))
    first.start()
    started.wait(JOIN_S)
    second = threading.Thread(target=long_run, args=("b", 3))
    second.start()
    time.sleep(0.02)  # "b" now waits behind "a"'s first step
    asker = threading.Thread(target=quick)
    asker.start()
    for thread in (first, second, asker):
        thread.join(JOIN_S)
    assert order[:2] == ["a", "quick"]
    assert quick_saw == ["a"]  # it ran beside the step in progress, not after it
    assert order[2:] == ["b", "a", "b", "a", "b"]  # the two runs alternate: neither starves the other
    assert turns.idle()


def test_eight_sessions_on_two_models_get_their_own_answers(embedded_model, nested_loaded):
    """Four visitors on the shared model and four on an uploaded-style model, all at once: nothing crosses."""
    pixels = [vizcore.load_sample(name) for name in SAMPLES]
    sessions = [(embedded_model, image, None) for image in pixels]
    sessions += [(nested_loaded, image[::-1], "base_conv2") for image in pixels]

    def visit(loaded, image, layer):
        cam = attribution.gradcam(loaded, image, layer=layer)
        return predictions.class_probabilities(loaded, image), cam.class_index, cam.values

    expected = [visit(*session) for session in sessions]
    results = _in_threads(len(sessions), lambda number: visit(*sessions[number]))
    for (probabilities, class_index, values), (want_probabilities, want_class, want_values) in zip(results, expected):
        np.testing.assert_allclose(probabilities, want_probabilities, atol=1e-5)
        assert class_index == want_class
        np.testing.assert_allclose(values, want_values, atol=1e-4 * max(want_values.max(), 1e-6))


def test_stop_ends_only_its_own_run(embedded_model):
    pixels = np.ascontiguousarray(vizcore.load_sample("astronaut")[::8, ::8])  # 64 x 64: cheap steps
    settings = dream.DreamSettings(octaves=1, steps_per_octave=8)
    stop_first, both_started = threading.Event(), threading.Barrier(2)

    def run(number):
        def on_progress(progress):
            if progress.step == 1:
                both_started.wait(JOIN_S)
                if number == 0:
                    stop_first.set()

        should_stop = stop_first.is_set if number == 0 else None
        return dream.deep_dream(embedded_model, pixels, settings=settings, on_progress=on_progress,
                                should_stop=should_stop)

    stopped, finished = _in_threads(2, run)
    assert stopped.stopped and stopped.steps_done == 1
    assert not finished.stopped and finished.steps_done == settings.total_steps
