"""The Ray Serve backend on a real local Ray: the in-process numbers, batched across callers; and the backend choice."""

import json
import subprocess
import sys

import numpy as np
import pytest
from test_cli import assert_one_sentence_error, run_cli

import vizcore
from vizcore import attribution, serving
from vizcore.errors import VizcoreError

RAY_SECONDS = 300  # a hung Ray start fails the test instead of holding the suite
SAMPLES = ("chelsea", "coffee", "rocket")
BAD_CLASS = 5000

SERVE_RUN = """
import json, sys, threading
import numpy as np
import ray
from ray import serve
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
serve.start(http_options={"location": "NoServer"})
import vizcore
from vizcore import serving
serving.deploy(("efficientnet_lite0",))
backend = serving.RayBackend()
samples = json.loads(sys.argv[2])
results = [None] * len(samples)

def visitor(number):  # one app session each, all at once
    pixels = vizcore.load_sample(samples[number])
    probabilities = backend.class_probabilities("efficientnet_lite0", pixels)
    top = backend.top_predictions("efficientnet_lite0", pixels, 3)
    cam = backend.explain("efficientnet_lite0", pixels, "gradcam")
    results[number] = (probabilities, [p.index for p in top], cam.class_index, cam.values)

threads = [threading.Thread(target=visitor, args=(number,)) for number in range(len(samples))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
try:
    backend.explain("efficientnet_lite0", vizcore.load_sample("chelsea"), "gradcam", class_index=int(sys.argv[3]))
    refused = ""
except vizcore.VizcoreError as error:
    refused = str(error)
np.savez(sys.argv[1], **{f"probabilities_{n}": r[0] for n, r in enumerate(results)},
         **{f"cam_{n}": r[3] for n, r in enumerate(results)})
print("RESULT", json.dumps({"top": [r[1] for r in results], "cam_class": [r[2] for r in results], "refused": refused,
                  "served": sorted(backend.model_names)}))
serve.shutdown()
"""


def test_ray_serve_backend_gives_the_in_process_numbers(tmp_path, embedded_model):
    out = tmp_path / "served.npz"
    result = subprocess.run([sys.executable, "-c", SERVE_RUN, str(out), json.dumps(SAMPLES), str(BAD_CLASS)],
                            capture_output=True, text=True, timeout=RAY_SECONDS)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert summary["served"] == ["efficientnet_lite0"]
    served = np.load(out)
    for number, name in enumerate(SAMPLES):
        pixels = vizcore.load_sample(name)
        want = vizcore.class_probabilities(embedded_model, pixels)
        np.testing.assert_allclose(served[f"probabilities_{number}"], want, atol=1e-4)
        assert summary["top"][number] == [p.index for p in vizcore.top_predictions(embedded_model, pixels, 3)]
        cam = attribution.gradcam(embedded_model, pixels)
        assert summary["cam_class"][number] == cam.class_index
        np.testing.assert_allclose(served[f"cam_{number}"], cam.values, atol=1e-3 * cam.values.max())
    # A user's mistake on the backend comes back as the same one sentence as in-process.
    with pytest.raises(VizcoreError) as in_process:
        attribution.explain(embedded_model, vizcore.load_sample("chelsea"), "gradcam", class_index=BAD_CLASS)
    assert summary["refused"] == str(in_process.value)


def test_in_process_is_the_default_and_a_wrong_choice_is_one_sentence(monkeypatch):
    monkeypatch.delenv(serving.BACKEND_VARIABLE, raising=False)
    assert serving.backend_name() == serving.IN_PROCESS
    assert serving.remote_backend("efficientnet_lite0") is None
    monkeypatch.setenv(serving.BACKEND_VARIABLE, "cluster")
    with pytest.raises(VizcoreError, match=serving.BACKEND_VARIABLE) as caught:
        serving.remote_backend("efficientnet_lite0")
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(VizcoreError, match="requirements-ray.txt"):
        serving.RayBackend()


def test_serve_models_refuses_an_unknown_model_before_touching_ray():
    result = run_cli("serve-models", "--models", "efficientnet_lite0,no_such_model")
    assert_one_sentence_error(result)
    assert "no_such_model" in result.stderr
