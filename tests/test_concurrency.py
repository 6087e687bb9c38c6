"""Many sessions at once on one shared model, and many reruns of one session: results stay right, nothing retraces.

``st.cache_resource`` is process-global, so AppTest sessions driven from several threads share the
one cached model exactly as browser sessions on one server do; each AppTest runs its script in
its own thread. Expected answers come from vizcore directly, single-threaded, before the sessions
start.
"""

import io
import threading
import time
import traceback

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit import config
from streamlit.runtime import Runtime
from streamlit.testing.v1 import AppTest
from test_app import APP, _upload, assert_healthy

from ui.sidebar import UPLOAD as IMAGE_UPLOAD
from vizcore import attribution, cached, dream, images, predictions

MODEL_NAME = "efficientnet_lite0"
TIMEOUT_S = 300  # one run while seven other sessions share two cores
GRADCAM_SAMPLES = ("chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field", "chelsea")
DREAM_SAMPLES = ("astronaut", "immunohistochemistry")
DREAM_OCTAVES, DREAM_STEPS = 2, 2
AREA_TOLERANCE = 0.0015  # the page prints areas with 3 decimals
ACTIVATION_TOLERANCE = 0.0015  # likewise the dream's mean activations
RERUN_SIZES = ((48, 64), (200, 150), (224, 224), (333, 500), (768, 1024), (1200, 900))  # (height, width)
TABBY = 281
# The traced functions behind the Predictions and Grad-CAM pages (kept per model view).
TRACED_FUNCTIONS = ("forward", "scores", "features_and_gradients")


@pytest.fixture
def one_server_runtime(monkeypatch):
    """Make AppTest's harness behave like one server for sessions in threads.

    AppTest installs a mock Runtime when a run starts and removes it when the run ends, so the
    first session to finish would leave the others without one mid-run (their images unstored,
    and Streamlit's check-then-use of the Runtime could raise): a run that finds none installed
    uses the last one seen, as every session of a server shares its one Runtime. AppTest also
    turns on ``global.appTest`` by patching ``config.get_option`` for the length of each run;
    overlapping runs unwind those patches out of order, so a widget could miss its test record
    (a KeyError in AppTest, not in the app): the option stays on until the test ends.
    """
    last_seen = []

    def instance(cls):
        current = cls._instance
        if current is not None:
            last_seen[:] = [current]
        if not last_seen:
            raise RuntimeError("Runtime hasn't been created!")
        return last_seen[0]

    def exists(cls):
        return cls._instance is not None or bool(last_seen)

    original_get_option = config.get_option

    def get_option(name):
        return True if name == "global.appTest" else original_get_option(name)

    monkeypatch.setattr(Runtime, "instance", classmethod(instance))
    monkeypatch.setattr(Runtime, "exists", classmethod(exists))
    monkeypatch.setattr(config, "get_option", get_option)


def _fresh_caches():
    """Empty result caches, so every session computes its own result rather than reading another test's."""
    st.cache_data.clear()
    cached.result_store.clear()


def _expected_gradcam_cards(model, name):
    """[(label, deletion area, insertion area)] for the page's two cards: the image's top two classes."""
    pixels = images.prepare_image(images.load_sample(name)).pixels
    top_two = np.argsort(-predictions.class_probabilities(model, pixels))[:2]
    cards = []
    for class_index in top_two:
        result = attribution.gradcam(model, pixels, int(class_index))
        curves = attribution.faithfulness(model, pixels, result.values, result.class_index)
        cards.append((result.label, curves.deletion_area, curves.insertion_area))
    return cards


def _expected_dream(model, name):
    pixels = images.prepare_image(images.load_sample(name)).pixels
    settings = dream.DreamSettings(octaves=DREAM_OCTAVES, steps_per_octave=DREAM_STEPS)
    return dream.deep_dream(model, pixels, dict(model.spec.presets.dream_layers), settings)


def _gradcam_cards(at):
    """[(label, deletion area, insertion area)] of the two class cards the Grad-CAM page shows (not the contrast card)."""
    labels = [block.value.split(" · ", 1)[1] for block in at.markdown if block.value.startswith("**Grad-CAM** · ")]
    captions = [caption.value for caption in at.main.caption if caption.value.startswith("deletion ")]
    areas = [(float(text.split("deletion ")[1].split()[0]), float(text.split("insertion ")[1].split()[0]))
             for text in captions]
    if len(labels) != len(areas):
        return []
    return [(label, *pair) for label, pair in zip(labels, areas) if " against " not in label]


def _dream_activations(at):
    """{layer: (input mean activation, dream mean activation)} from the DeepDream page's caption."""
    shown = {}
    for part in at.main.caption[-1].value.split(" · "):
        layer, numbers = part.split(": mean activation ")
        before, after = numbers.split(" → ")
        shown[layer] = (float(before), float(after))
    return shown


def _assert_healthy_with_trace(at):
    """assert_healthy plus the stack trace (redacted for users by the app's config) and a check the page rendered."""
    assert not at.exception, [(error.value, error.stack_trace) for error in at.exception]
    assert at.title, [getattr(node, "value", type(node).__name__) for node in at.main.children.values()]


def _open_session(sample, page):
    """A session on ``sample``, with the page's settings made but nothing heavy computed yet."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    _assert_healthy_with_trace(at)
    at.sidebar.selectbox(key="sample_choice").set_value(sample).run()
    if page == "dream":
        at.switch_page("pages/deep-dream.py").run()
        at.slider(key="dream_octaves").set_value(DREAM_OCTAVES)
        at.slider(key="dream_steps").set_value(DREAM_STEPS).run()
    return at


def _heavy_run(at, page):
    if page == "gradcam":
        at.switch_page("pages/grad-cam.py").run()
    else:
        at.button(key="dream_run").click().run()


def test_eight_sessions_at_once_get_the_single_threaded_answers(one_server_runtime):
    model = cached.shared_model(MODEL_NAME)
    expected_cards = {name: _expected_gradcam_cards(model, name) for name in set(GRADCAM_SAMPLES)}
    expected_dreams = {name: _expected_dream(model, name) for name in DREAM_SAMPLES}
    _fresh_caches()

    sessions = [("gradcam", name) for name in GRADCAM_SAMPLES] + [("dream", name) for name in DREAM_SAMPLES]
    barrier = threading.Barrier(len(sessions))
    outcomes = [None] * len(sessions)

    def session(number, page, sample):
        try:
            at = _open_session(sample, page)
            barrier.wait(timeout=TIMEOUT_S)
            started = time.perf_counter()
            _heavy_run(at, page)
            outcomes[number] = (at, started, time.perf_counter(), None)
        except BaseException:  # reported below, with the session it happened in
            barrier.abort()
            outcomes[number] = (None, 0.0, 0.0, traceback.format_exc())

    threads = [threading.Thread(target=session, args=(number, *pair)) for number, pair in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    errors = [f"{sessions[number]}: {error}" for number, (_, _, _, error) in enumerate(outcomes) if error]
    first_causes = [error for error in errors if "BrokenBarrierError" not in error]  # the others only waited for them
    assert not errors, "\n".join(first_causes or errors)
    starts, ends = [outcome[1] for outcome in outcomes], [outcome[2] for outcome in outcomes]
    assert max(starts) < min(ends), "the eight heavy runs never were all in flight at once"

    for (page, sample), (at, _, _, _) in zip(sessions, outcomes):
        assert_healthy(at)
        assert at.sidebar.selectbox(key="sample_choice").value == sample
        if page == "gradcam":
            shown = _gradcam_cards(at)
            assert [label for label, _, _ in shown] == [label for label, _, _ in expected_cards[sample]], sample
            for (_, deletion, insertion), (_, want_deletion, want_insertion) in zip(shown, expected_cards[sample]):
                assert deletion == pytest.approx(want_deletion, abs=AREA_TOLERANCE), sample
                assert insertion == pytest.approx(want_insertion, abs=AREA_TOLERANCE), sample
        else:
            want = expected_dreams[sample]
            assert at.main.get("image")[-1].proto.imgs[0].caption.startswith(f"The dream: {want.steps_done} steps")
            shown = _dream_activations(at)
            assert set(shown) == set(want.layers), sample
            for layer, (before, after) in shown.items():
                assert before == pytest.approx(want.input_activation[layer], abs=ACTIVATION_TOLERANCE), sample
                assert after == pytest.approx(want.dream_activation[layer], abs=ACTIVATION_TOLERANCE), sample
                assert after > before, sample  # the dream amplified what the layer sees


def _generated_image(height, width, seed):
    """A smooth random RGB picture of the given size as PNG bytes (new pixels for every seed)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    pixels = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _tracing_counts():
    counts = cached.shared_model(MODEL_NAME).derived.tracing_counts()
    return {name: counts.get(name, 0) for name in TRACED_FUNCTIONS}


def _show_on_both_pages(at, height, width, seed):
    """Upload a new image of this size and run Predictions and Grad-CAM on it: every result is computed anew."""
    upload = (f"generated_{width}x{height}.png", _generated_image(height, width, seed), "image/png")
    at.sidebar.file_uploader(key=IMAGE_UPLOAD).set_value(upload)
    at.switch_page("pages/predictions.py").run()
    assert_healthy(at)
    assert f"{width}×{height}" in at.sidebar.get("image")[0].proto.imgs[0].caption
    at.switch_page("pages/grad-cam.py").run()
    assert_healthy(at)
    assert len(_gradcam_cards(at)) == 2


def test_reruns_over_image_sizes_do_not_retrace():
    at = AppTest.from_file(APP, default_timeout=180).run()
    first_height, first_width = RERUN_SIZES[0]
    _upload(at, "first.png", _generated_image(first_height, first_width, seed=0), "image/png")
    _show_on_both_pages(at, first_height, first_width, seed=1)  # the first pass may trace
    after_first_pass = _tracing_counts()
    assert all(count > 0 for count in after_first_pass.values()), after_first_pass

    for seed, (height, width) in enumerate(RERUN_SIZES[1:], start=2):
        _show_on_both_pages(at, height, width, seed)
    second_class = at.selectbox(key=f"gradcam_second_{MODEL_NAME}_{at.session_state['selection'].image_key}")
    second_class.set_value(TABBY).run()  # a rerun that explains another class of the same image
    assert_healthy(at)
    assert [label for label, _, _ in _gradcam_cards(at)][1] == "tabby"
    assert _tracing_counts() == after_first_pass
