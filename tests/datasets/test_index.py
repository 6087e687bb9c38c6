"""The index pass: rows, top-K per channel, resume after a killed run, refusals, and the hostile corpus."""

import json
import shutil
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataset_photos import CLASSES, LAYER, NOT_AN_IMAGE, SETTINGS
from hostile_images import CASES, Accepted, Refused
from vizcore.datasets.index import IndexSettings, build_index, read_images, read_manifest
from vizcore.datasets.recipe import IndexRecipe
from vizcore.datasets.sources import open_source
from vizcore.errors import VizcoreError
from vizcore.images import fit_to_model


def test_rows_labels_predictions_and_skipped(built_index):
    out, summary = built_index
    assert summary.images == 10 and summary.engine == "local"
    assert [item.path for item in summary.skipped] == ["notes.jpg"] and NOT_AN_IMAGE in summary.skipped[0].reason
    rows = {row["path"]: row for row in read_images(out).to_pylist()}
    assert len(rows) == 10 and rows["astronaut.png"]["label"] is None
    assert {rows[f"{name}/crop.jpg"]["label"] for name in CLASSES} == set(CLASSES)
    assert rows["coffee/full.jpg"]["predicted"] == "espresso"
    assert rows["chelsea/full.jpg"]["top_classes"][0] in range(281, 286)
    assert all(row["correct"] is None for row in rows.values())  # folder names are not ImageNet classes
    probabilities = np.array(rows["coffee/flip.png"]["top_probabilities"])
    assert np.all(np.diff(probabilities) <= 0) and 0.5 < probabilities[0] <= 1
    assert len(rows["coffee/flip.png"]["embedding"]) == 1280
    manifest = read_manifest(out)
    assert manifest["counts"]["images"] == 10 and manifest["model"]["embedding_layer"] == "avg_pool"
    assert manifest["skipped"] == [item.as_dict() for item in summary.skipped]
    assert set(manifest["versions"]) >= {"tensorflow", "keras", "vizcore"}
    shard_size = SETTINGS["shard_size"]  # the model runs batches of two shards at once: each row lands in its own
    for number in range(3):
        part = pq.read_table(out / "images" / f"part-{number:05d}.parquet")
        assert all(number * shard_size <= index < (number + 1) * shard_size for index in part["file_index"].to_pylist())
        skipped = json.loads(part.schema.metadata[b"vizcore.skipped"])
        assert [item["path"] for item in skipped] == (["notes.jpg"] if number == 1 else [])


def test_top_k_per_channel_matches_the_recipe(built_index, dataset, embedded_model):
    out, _ = built_index
    recipe = IndexRecipe(embedded_model, (LAYER,), batch_size=4)
    with open_source(dataset) as source:
        pairs = [(file.path, pixels) for file, pixels in source.decoded(source.files) if isinstance(pixels, np.ndarray)]
    maxima = {}
    for start in range(0, len(pairs), 4):
        chunk = pairs[start : start + 4]
        outputs = recipe({"image": np.stack([fit_to_model(pixels, 224) for _, pixels in chunk])})
        maxima.update({path: outputs[f"{LAYER}/max"][row] for row, (path, _) in enumerate(chunk)})
    table = pq.read_table(out / "top_activations.parquet").to_pylist()
    for channel in (0, 17, 79):
        rows = sorted((row for row in table if row["channel"] == channel), key=lambda row: row["rank"])
        expected = sorted(maxima, key=lambda path: -maxima[path][channel])[:3]
        assert [row["path"] for row in rows] == expected
        assert np.allclose([row["activation"] for row in rows], [maxima[path][channel] for path in expected], rtol=1e-4)


def test_a_killed_run_resumes_without_redoing_finished_shards(tmp_path, dataset, embedded_model, built_index):
    out = tmp_path / "index"

    def killed_after_first_shard(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(dataset, out, embedded_model, IndexSettings(**SETTINGS), progress=killed_after_first_shard)
    with pytest.raises(VizcoreError, match="not finished"):
        read_manifest(out)
    first_part = (out / "images" / "part-00000.parquet").stat().st_mtime_ns
    summary = build_index(dataset, out, embedded_model, IndexSettings(**SETTINGS))
    assert (summary.shards_computed, summary.shards_total) == (2, 3)
    assert (out / "images" / "part-00000.parquet").stat().st_mtime_ns == first_part
    fresh = read_images(built_index[0]).to_pylist()
    resumed = read_images(out).to_pylist()
    assert [row["path"] for row in resumed] == [row["path"] for row in fresh]
    assert np.allclose([row["embedding"] for row in resumed], [row["embedding"] for row in fresh], atol=1e-2)
    assert [item.as_dict() for item in summary.skipped] == [item.as_dict() for item in built_index[1].skipped]
    again = build_index(dataset, out, embedded_model, IndexSettings(**SETTINGS))
    assert again.shards_computed == 0 and again.images == 10


def test_a_failed_shard_write_stops_the_run_with_its_error(tmp_path, dataset, embedded_model, monkeypatch):
    from vizcore.datasets import index

    written = []
    real_write = index._write_parquet

    def disk_full_on_the_second_shard(table, path):
        if "part-00001" in path.name:
            raise OSError("No space left on device")
        real_write(table, path)
        written.append(path.name)

    monkeypatch.setattr(index, "_write_parquet", disk_full_on_the_second_shard)
    with pytest.raises(OSError, match="No space left"):  # raised by build_index, not lost on the writing thread
        build_index(dataset, tmp_path / "index", embedded_model, IndexSettings(**SETTINGS))
    assert "part-00000.parquet" in written and not (tmp_path / "index" / "images" / "part-00001.parquet").exists()
    with pytest.raises(VizcoreError, match="not finished"):
        read_manifest(tmp_path / "index")


def test_other_settings_in_the_same_folder_are_one_sentence(built_index, dataset, embedded_model, tmp_path):
    out, _ = built_index
    with pytest.raises(VizcoreError, match="top k differs") as caught:
        build_index(dataset, out, embedded_model, IndexSettings(**{**SETTINGS, "top_k": 5}))
    assert str(caught.value).count(". ") == 0
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("mine")
    with pytest.raises(VizcoreError, match="other files"):
        build_index(dataset, tmp_path / "busy", embedded_model, IndexSettings(**SETTINGS))


def test_the_hostile_corpus_and_a_hostile_zip_lose_nothing_else(tmp_path, dataset, embedded_model):
    folder = tmp_path / "hostile"
    shutil.copytree(dataset / "coffee", folder / "coffee")
    written = {name: write(folder).name for name, (write, _) in CASES.items()}
    summary = build_index(folder, tmp_path / "index", embedded_model, IndexSettings(**{**SETTINGS, "batch_size": 8, "shard_size": 64}))
    reasons = {item.path: item.reason for item in summary.skipped}
    indexed = set(read_images(tmp_path / "index", columns=["path"])["path"].to_pylist())
    for name, (_, expectation) in CASES.items():
        if isinstance(expectation, Refused):
            assert expectation.says in reasons[written[name]], name
            assert reasons[written[name]].endswith(".") and "\n" not in reasons[written[name]]
        else:
            assert isinstance(expectation, Accepted) and written[name] in indexed, name
    assert {"coffee/full.jpg", "coffee/flip.png", "coffee/crop.jpg"} <= indexed

    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(dataset.rglob("*")):
            if path.is_file():
                zipped.write(path, f"photos/{path.relative_to(dataset).as_posix()}")
        zipped.writestr("photos/../../outside.png", (dataset / "coffee" / "flip.png").read_bytes())
        zipped.write(folder / written["png_decompression_bomb"], "photos/coffee/bomb.png")
        zipped.writestr("photos/coffee/huge.bin", bytes(100 * 2**20))
    summary = build_index(archive, tmp_path / "zip-index", embedded_model, IndexSettings(**SETTINGS))
    reasons = {item.path: item.reason for item in summary.skipped}
    assert summary.images == 10
    assert "leaves the dataset folder" in reasons["photos/../../outside.png"]
    assert "too large" in reasons["coffee/bomb.png"] and NOT_AN_IMAGE in reasons["notes.jpg"]
    assert "inflate" in reasons["photos/coffee/huge.bin"]
    manifest = json.loads((tmp_path / "zip-index" / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "zip" and manifest["counts"]["skipped"] == 4
