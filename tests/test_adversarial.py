"""Adversarial examples (vizcore/adversarial.py) on the embedded model, and ``vizcore attack``."""

import json

import numpy as np
import pytest
from PIL import Image

import vizcore
from test_cli import assert_one_sentence_error, run_cli
from vizcore import adversarial
from vizcore.adversarial import AttackSettings, attack, saved_pixels
from vizcore.errors import VizcoreError
from vizcore.images import decode_image
from vizcore.limits import MAX_STEPS

BANANA = 954
EGYPTIAN_CAT = 285


@pytest.fixture(scope="module")
def untargeted(embedded_model, chelsea):
    """PGD under L-infinity at 1 pixel level, 5 steps: the smallest change a saved PNG can carry."""
    return attack(embedded_model, chelsea, AttackSettings(method="pgd", norm="linf", epsilon=1.0, steps=5))


@pytest.fixture(scope="module")
def l2_attack(embedded_model, coffee):
    return attack(embedded_model, coffee, AttackSettings(method="pgd", norm="l2", epsilon=100.0, steps=5))


def test_untargeted_pgd_fools_the_model_at_one_level_and_the_saved_png_still_does(embedded_model, untargeted):
    assert untargeted.original_class.class_index == EGYPTIAN_CAT
    assert untargeted.success and untargeted.adversarial_class.class_index != EGYPTIAN_CAT
    reread = decode_image(untargeted.png)  # what a user gets from the downloaded file
    assert np.array_equal(reread, untargeted.adversarial)
    probabilities = vizcore.class_probabilities(embedded_model, reread)
    assert int(np.argmax(probabilities)) == untargeted.adversarial_class.class_index != EGYPTIAN_CAT
    assert untargeted.linf == 1.0 and untargeted.steps_done == 5


def test_linf_and_l2_bounds_hold_exactly_on_the_saved_images(untargeted, l2_attack):
    assert untargeted.adversarial.dtype == np.uint8 and untargeted.adversarial.shape == (224, 224, 3)
    assert np.abs(untargeted.perturbation).max() <= 1
    assert l2_attack.success
    assert 90.0 < l2_attack.l2 <= 100.0  # rounding kept within the ball, not far inside it
    assert np.sqrt((l2_attack.perturbation.astype(np.int64) ** 2).sum()) <= 100.0


@pytest.mark.parametrize("norm, epsilon, changed", [("linf", 2.7, 3072), ("l2", 10.5, 30), ("l2", 300.0, 2000)])
def test_saving_rounds_within_epsilon_even_where_rounding_to_nearest_would_leave_it(norm, epsilon, changed):
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    direction = np.zeros(original.size)
    direction[rng.permutation(original.size)[:changed]] = rng.choice([-1.0, 1.0], changed) * rng.uniform(0.9, 1.0, changed)
    direction = direction.reshape(original.shape)
    if norm == "linf":
        delta = np.clip(direction * 3, -epsilon, epsilon)  # many changes of 2.7 to 3: nearest rounds them to 3
    else:
        delta = direction * epsilon / np.linalg.norm(direction)  # on the sphere, where rounding to nearest leaves it
        assert np.linalg.norm(np.round(delta)) > epsilon
    saved = saved_pixels(original, original + delta, norm, epsilon)
    change = saved.astype(np.int64) - original
    assert saved.dtype == np.uint8
    if norm == "linf":
        assert np.abs(change).max() == 2
    else:
        assert 0.8 * epsilon < np.sqrt((change**2).sum()) <= epsilon


def test_targeted_pgd_reaches_its_target(embedded_model, chelsea):
    result = attack(embedded_model, chelsea, AttackSettings(epsilon=2.0, steps=8, target=BANANA))
    assert result.success and result.adversarial_class.class_index == BANANA
    assert result.target.class_index == BANANA and result.target.probability > 0.5
    assert result.linf <= 2.0


def test_fgsm_takes_one_signed_step_of_epsilon(embedded_model, coffee):
    result = attack(embedded_model, coffee, AttackSettings(method="fgsm", epsilon=3.0, steps=50))
    assert result.steps_done == 1
    change = np.abs(result.perturbation)
    assert change.max() == 3 and (change == 3).mean() > 0.9  # all but pixels at the ends of 0-255


def test_progress_stop_and_one_trace_for_every_epsilon(embedded_model, coffee, untargeted):
    before = embedded_model.derived.tracing_counts()["attack_step"]
    updates = []
    result = attack(embedded_model, coffee, AttackSettings(epsilon=3.0, steps=6), on_progress=updates.append,
                    should_stop=lambda: len(updates) >= 2)
    assert result.stopped and result.steps_done == 2
    assert [(update.step, update.steps) for update in updates] == [(1, 6), (2, 6)]
    assert updates[-1].images.shape == (1, 224, 224, 3) and updates[-1].images.dtype == np.uint8
    assert result.linf <= 3.0
    assert embedded_model.derived.tracing_counts()["attack_step"] == before  # another image and epsilon, same trace


@pytest.mark.parametrize("settings, message", [
    (AttackSettings(epsilon=0.5), "Epsilon under L∞ must be between 1 and 64"),
    (AttackSettings(norm="l1"), "Unknown norm 'l1'"),
    (AttackSettings(method="cw"), "Unknown attack method 'cw'"),
    (AttackSettings(steps=MAX_STEPS + 1), f"PGD steps must be between 1 and {MAX_STEPS}"),
    (AttackSettings(epsilon=2.0, step_size=3.0), "at most epsilon (2)"),
    (AttackSettings(target=1000), "The target class must be between 0 and 999"),
    (AttackSettings(target=EGYPTIAN_CAT), "already predicts Egyptian cat"),
])
def test_bad_settings_are_one_sentence(embedded_model, chelsea, settings, message):
    with pytest.raises(VizcoreError) as caught:
        attack(embedded_model, chelsea, settings)
    sentence = str(caught.value)
    assert message in sentence and sentence.count(". ") == 0 and sentence.endswith(".")


def test_a_nested_transfer_learning_model_is_attacked_at_its_own_size(nested_loaded):
    pixels = np.random.default_rng(0).integers(0, 256, (60, 80, 3)).astype(np.uint8)
    result = attack(nested_loaded, pixels, AttackSettings(norm="l2", epsilon=200.0, steps=10))
    original = result.original_class.class_index
    assert result.adversarial.shape == (48, 48, 3) and result.l2 <= 200.0
    assert result.adversarial_probabilities[original] < result.original_probabilities[original]


def test_amplified_perturbation_states_its_scale(untargeted):
    picture, scale = adversarial.amplified_perturbation(untargeted)
    assert scale == 127 and picture.dtype == np.uint8
    assert set(np.unique(picture)) <= {1, 128, 255}


# --- vizcore attack ---------------------------------------------------------------------------


@pytest.fixture
def shared_model(monkeypatch, embedded_model):
    """The CLI runs on this module's model (and its traces) instead of loading its own."""
    monkeypatch.setattr(vizcore, "load_model", lambda *args, **options: embedded_model)


def test_cli_attack_writes_the_png_the_array_and_the_json(tmp_path, shared_model):
    out, array = tmp_path / "adv.png", tmp_path / "adv.npy"
    result = run_cli("attack", "sample:coffee", "--method", "pgd", "--norm", "linf", "--epsilon", "2", "--steps", "4",
                     "--step-size", "0.5", "--target", "banana", "--out", out, "--array", array, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {"original", "adversarial", "target", "epsilon", "linf", "l2", "steps", "success"} <= set(summary)
    assert set(summary["original"]) == set(summary["adversarial"]) == {"class", "label", "probability"}
    assert summary["original"]["label"] == "espresso" and summary["target"]["class"] == BANANA
    assert summary["epsilon"] == 2.0 and summary["steps"] == 4 and summary["linf"] <= 2.0
    saved = np.asarray(Image.open(out))
    assert np.array_equal(saved, np.load(array)) and saved.shape == (224, 224, 3)
    assert summary["success"] == (summary["adversarial"]["class"] == BANANA)


@pytest.mark.parametrize("args, message", [
    (["attack", "sample:chelsea", "--epsilon", "0.5"], "Epsilon under L∞ must be between 1 and 64"),
    (["attack", "sample:chelsea", "--norm", "l3"], "Argument --norm: invalid choice: 'l3'"),
    (["attack", "sample:chelsea", "--target", "bananna", "--steps", "1"], "no class called 'bananna'"),
    (["attack", "/no/such/file.png"], "There is no file at /no/such/file.png."),
])
def test_cli_attack_bad_input_is_one_sentence_and_exit_2(args, message, shared_model):
    assert message in assert_one_sentence_error(run_cli(*args))
