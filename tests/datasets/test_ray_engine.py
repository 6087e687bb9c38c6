"""The Ray engine on a real local Ray (2 CPUs): a stopped build resumed to the local engine's index; its install hint."""

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataset_photos import SETTINGS
from vizcore.datasets import ray_engine
from vizcore.datasets.index import read_images
from vizcore.errors import VizcoreError

RAY_SECONDS = 300  # a hung Ray dataset fails the test instead of holding the suite

RAY_RUN = """
import json, os, sys, time
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
from vizcore.datasets.index import IndexSettings, build_index
data, out, settings = sys.argv[1], sys.argv[2], IndexSettings(**json.loads(sys.argv[3]))

class Stop(Exception):
    pass

def stop_after_the_first_shard(done, total):
    raise Stop  # what the page's Stop does through its progress callback

stopped = False
try:
    build_index(data, out, settings=settings, engine="ray", progress=stop_after_the_first_shard)
except Stop:
    stopped = True
deadline = time.monotonic() + 60
while ray.available_resources().get("CPU") != ray.cluster_resources()["CPU"] and time.monotonic() < deadline:
    time.sleep(0.2)
freed = ray.available_resources().get("CPU") == ray.cluster_resources()["CPU"]
after_stop = sorted(os.listdir(os.path.join(out, "images")))
summary = build_index(data, out, settings=settings, engine="ray")
print(json.dumps({**summary.as_dict(), "stopped": stopped, "freed": freed, "after_stop": after_stop,
                  "computed": summary.shards_computed, "total": summary.shards_total}))
"""


def test_a_stopped_ray_build_frees_its_workers_and_resumes_to_the_local_engines_index(tmp_path, dataset, built_index):
    local_out, local_summary = built_index
    out = tmp_path / "ray-index"
    result = subprocess.run([sys.executable, "-c", RAY_RUN, str(dataset), str(out), json.dumps(SETTINGS)],
                            capture_output=True, text=True, timeout=RAY_SECONDS)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["stopped"] and summary["freed"]  # the actors and read tasks are gone after the stop
    assert summary["after_stop"] == ["part-00000.parquet"]  # the reported shard is on disk, nothing half-written
    assert (summary["computed"], summary["total"]) == (2, 3)
    assert summary["engine"] == "ray" and summary["images"] == local_summary.images
    assert summary["skipped"] == [item.as_dict() for item in local_summary.skipped]
    ray_rows, local_rows = read_images(out).to_pylist(), read_images(local_out).to_pylist()
    for mine, theirs in zip(ray_rows, local_rows, strict=True):
        assert {key: mine[key] for key in ("path", "label", "height", "width", "top_classes", "predicted")} == \
            {key: theirs[key] for key in ("path", "label", "height", "width", "top_classes", "predicted")}
        assert np.allclose(mine["top_probabilities"], theirs["top_probabilities"], atol=1e-4)
        assert np.allclose(mine["embedding"], theirs["embedding"], atol=1e-2, rtol=1e-2)
    ray_top = pq.read_table(out / "top_activations.parquet").to_pylist()
    local_top = pq.read_table(local_out / "top_activations.parquet").to_pylist()
    assert [(row["layer"], row["channel"], row["path"], row["x0"], row["y1"]) for row in ray_top] == \
        [(row["layer"], row["channel"], row["path"], row["x0"], row["y1"]) for row in local_top]
    assert np.allclose([row["activation"] for row in ray_top], [row["activation"] for row in local_top], rtol=1e-3)


def test_without_ray_one_sentence_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(VizcoreError, match="requirements-ray.txt") as caught:
        ray_engine.start_ray(None, 1)
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


def test_blocks_hold_whole_batches_so_no_actor_call_pads_a_remainder():
    rows = [{"file_index": index, "path": f"{index}.jpg", "label": "", "entry": f"{index}.jpg"} for index in range(100)]
    blocks = ray_engine._blocks_of(rows, 32)
    assert [block.num_rows for block in blocks] == [32, 32, 32, 4]
    assert [row["file_index"] for block in blocks for row in block.to_pylist()] == list(range(100))


@pytest.mark.parametrize(("address", "target"), [
    ("10.0.0.5:6379", ("10.0.0.5", 6379)),
    ("ray://head.example:10001", ("head.example", 10001)),
    ("ray://head.example", ("head.example", ray_engine.CLIENT_PORT)),
    ("[::1]:6379", ("::1", 6379)),
    ("auto", None),
])
def test_the_address_a_cluster_is_tried_at(address, target):
    assert ray_engine._host_and_port(address) == target


def test_a_cluster_that_does_not_answer_is_one_sentence_at_once():
    import socket
    import time

    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(VizcoreError) as caught:
        ray_engine._check_answers(f"127.0.0.1:{port}")
    assert time.monotonic() - started < ray_engine.ANSWER_SECONDS + 1
    assert str(caught.value).startswith(f"The Ray cluster at 127.0.0.1:{port} does not answer")
    assert "\n" not in str(caught.value)
