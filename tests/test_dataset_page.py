"""The Dataset explorer as a user drives it (AppTest): build the demo index, then its neighbours, map and patches."""

import os
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

import hostile_models  # tests/ helpers: a tiny model file to upload as the second model
from ui.dataset_view import indexes_root

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")
PAGE = "pages/dataset-explorer.py"
PER_PHOTO = 1  # the smallest demo set: one crop per photo keeps the build to one small forward pass


def opened(**query):
    app = AppTest.from_file(APP, default_timeout=240).run()
    app.session_state["dataset_demo_per_photo"] = PER_PHOTO  # before the page: the default set is never made
    app.query_params.update(query)  # as a link from another page (st.page_link with query_params) sets them
    app.switch_page(PAGE).run()
    assert app.slider(key="dataset_demo_per_photo").value == PER_PHOTO
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.fixture(scope="module")
def built():
    """A session that built the small demo index (the expensive step, once for the module)."""
    # The test process's cache may already hold this index (the browser test's server shares the cache
    # folder and builds it too): start from none, so the Build button is there to press.
    shutil.rmtree(indexes_root(), ignore_errors=True)
    app = opened()
    assert "A demo set" in " ".join(caption.value for caption in app.caption)
    [build] = [button for button in app.button if button.label == "Build the index"]
    build.click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def image_captions(app):
    return [image.caption for element in app.main.get("image") for image in element.proto.imgs]


def metric(app, label):
    return next(item.value for item in app.metric if item.label == label)


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-model")
    return hostile_models.save_keras(hostile_models.good_tiny_model(), folder / "tiny.keras").read_bytes()


def test_build_shows_the_index_and_its_views(built):
    photos = len(built.selectbox(key="dataset_cell").options)  # one cell per label: one image per photo
    assert int(metric(built, "Images")) == photos >= 12
    assert metric(built, "Built on") == "Server"
    assert [header.value for header in built.subheader] == [
        "Labels and predictions", "Embedding map", "Nearest neighbours of the sidebar image", "Max-activating patches"]
    # Labels are source photos, not ImageNet classes: a table of what each label gets, and no accuracy.
    assert not any(item.label == "Top-1 accuracy" for item in built.metric)
    assert any("not the model's classes" in caption.value for caption in built.caption)
    assert len(built.get("plotly_chart")) == 2  # the label x predicted table and the embedding map
    assert {button.label for button in built.get("download_button")} >= {
        "Index manifest JSON", "Map XY NPY", "Neighbours JSON", "Patches PNG", "Patches JSON"}


def test_neighbours_of_the_sample_cat_start_with_its_own_crop(built):
    captions = [caption for caption in image_captions(built) if caption.startswith("1. distance")]
    assert captions, "no neighbour grid"
    distance = float(captions[0].split()[2])
    assert "chelsea" in captions[0] and 0 <= distance < 0.5  # the crop of the sidebar photo is the closest


def test_patches_follow_the_chosen_channel(built):
    layer = built.selectbox(key="dataset_patch_layer").value
    before = built.dataframe[-1].value["image"].tolist()
    built.number_input(key="dataset_patch_channel").set_value(7).run()
    assert not built.exception
    captions = [caption for caption in image_captions(built) if caption.startswith(f"{layer}, channel 7:")]
    assert captions
    after = built.dataframe[-1].value
    assert len(after) == built.slider(key="dataset_patch_k").value
    assert list(after["activation"]) == sorted(after["activation"], reverse=True)
    assert after["image"].tolist() != before or len(set(before)) == len(before)  # a real lookup, not a fixed list


def test_a_second_visit_reopens_the_index_and_follows_a_channel_link(built):
    layer = built.selectbox(key="dataset_patch_layer").options[-1]
    again = opened(layer=layer, channel="3")
    assert not [button for button in again.button if button.label == "Build the index"]  # opened, not rebuilt
    assert int(metric(again, "Images")) == int(metric(built, "Images"))
    assert again.selectbox(key="dataset_patch_layer").value == layer
    assert again.number_input(key="dataset_patch_channel").value == 3


def test_activation_explorer_links_its_channel_here():
    app = AppTest.from_file(APP, default_timeout=240).run()
    app.switch_page("pages/activation-explorer.py").run()
    layer = app.selectbox(key="explorer_layer_efficientnet_lite0").value
    channel = app.number_input(key=f"explorer_channel_{layer}").value
    [link] = [link.proto for link in app.get("page_link") if link.proto.label == "Natural exemplars of this channel"]
    assert link.page.endswith("dataset-explorer.py") or "dataset-explorer" in link.page
    assert link.query_string == f"layer={layer}&channel={channel}"


def test_filter_gallery_shows_a_channel_beside_its_dataset_patches(built):
    layer = built.selectbox(key="dataset_patch_layer").options[0]
    built.switch_page("pages/filter-gallery.py").run()
    built.selectbox(key="filters_layer_efficientnet_lite0").set_value(layer)
    built.text_input(key="filters_channels_efficientnet_lite0").set_value("2")
    built.slider(key="filters_steps").set_value(16)
    built.select_slider(key="filters_size").set_value(64).run()
    built.button(key="filters_run").click().run()
    built.toggle(key="filters_exemplars").set_value(True).run()
    assert not built.exception, [e.value for e in built.exception]
    assert "Natural exemplars" in [header.value for header in built.subheader]
    captions = image_captions(built)
    assert "channel 2, synthesised" in captions
    assert any(caption.startswith("channel 2: the ") and "dataset patches" in caption for caption in captions)


def test_a_zip_upload_is_indexed_and_a_missing_folder_is_one_sentence(built, tmp_path, monkeypatch):
    import io
    import zipfile

    from vizcore.datasets.demo import ensure_demo_set

    photos = sorted(ensure_demo_set(PER_PHOTO).folder.rglob("*.jpg"))[:2]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for photo in photos:
            archive.write(photo, f"mine/{photo.parent.name}/{photo.name}")
        archive.writestr("mine/notes/list.jpg", "Shopping list: milk, eggs.\n")
    built.switch_page(PAGE).run()
    built.radio(key="dataset_source").set_value("Folder on the server").run()
    monkeypatch.setenv("VIZCORE_DATASET_FOLDERS", str(tmp_path / "shared"))  # a hosted server's allowed roots
    built.text_input(key="dataset_folder").set_value(str(tmp_path.parent)).run()
    assert [error.value for error in built.error] == [f"This server indexes folders inside {tmp_path / 'shared'} only."]
    assert not [button for button in built.button if button.label == "Build the index"]
    monkeypatch.delenv("VIZCORE_DATASET_FOLDERS")
    built.text_input(key="dataset_folder").set_value(str(tmp_path / "nowhere")).run()
    built.button(key="dataset_build_run").click().run()
    assert not built.exception
    assert [error.value for error in built.error] == [f"There is no folder or zip file at {tmp_path / 'nowhere'}."]

    built.radio(key="dataset_source").set_value("Zip upload").run()
    built.main.get("file_uploader")[0].set_value(("mine.zip", buffer.getvalue(), "application/zip")).run()
    built.button(key="dataset_build_run").click().run()
    assert not built.exception, [e.value for e in built.exception]
    assert (int(metric(built, "Images")), int(metric(built, "Skipped"))) == (2, 1)
    assert len(built.selectbox(key="dataset_cell").options) == 2  # one cell per photo's label


def test_a_second_model_builds_its_index_and_shows_the_images_the_two_disagree_on(built, tiny_model_file):
    app = opened()  # the embedded model's demo index, built by `built`, reopens
    embedded = app.sidebar.selectbox(key="model_choice").value
    app.sidebar.file_uploader(key="user_model_file").set_value(("tiny.keras", tiny_model_file, "application/octet-stream"))
    app.run()
    uploaded = app.sidebar.selectbox(key="model_choice").value
    assert uploaded.startswith("upload:")
    app.sidebar.selectbox(key="model_choice").set_value(embedded)  # the embedded model first again,
    app.sidebar.selectbox(key="compare_model").set_value(uploaded).run()  # the upload second
    assert not app.exception, [e.value for e in app.exception]
    assert "Where the two models disagree" in [header.value for header in app.subheader]
    app.button(key="dataset_compare_build_run").click().run()  # the second model has no index of the demo set yet
    assert not app.exception, [e.value for e in app.exception]

    images = int(metric(app, "Images"))
    [count] = [block.value for block in app.markdown if "images disagree" in block.value]
    # The tiny model's classes are "class 0".."class 5", none of them ImageNet's: every image disagrees.
    assert count.startswith(f"**{images} of {images} images disagree**")
    assert any("no class name in common" in box.value for box in app.info)
    captions = [caption for caption in image_captions(app) if caption.startswith("first: ")]
    assert len(captions) == min(images, 24)
    # The first index's top classes, from the cells "label L → predicted P (N images)" of the labels table.
    predicted = {cell.split(" → predicted ")[1].rsplit(" (", 1)[0] for cell in app.selectbox(key="dataset_cell").options}
    surest = []
    for caption in captions:  # "first: tabby 83% · second: class 4 41%"
        first, second = caption.removeprefix("first: ").split(" · second: ")
        assert first.rsplit(" ", 1)[0] in predicted and second.startswith("class ")
        surest.append(min(int(first.rsplit(" ", 1)[1][:-1]), int(second.rsplit(" ", 1)[1][:-1])))
    assert surest == sorted(surest, reverse=True)  # the surest disagreements first
    assert "Disagreements JSON" in [button.label for button in app.get("download_button")]


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    """Three demo images in two class folders and a text file named .jpg: a folder the page has no index of."""
    from vizcore.datasets.demo import ensure_demo_set

    root = tmp_path_factory.mktemp("ray-photos") / "photos"
    for photo in sorted(ensure_demo_set(PER_PHOTO).folder.rglob("*.jpg"))[:3]:
        (root / photo.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, root / photo.parent.name / photo.name)
    (root / "notes.jpg").write_text("Shopping list: milk, eggs.\n")
    return root


def chose_folder(app, folder):
    app.switch_page(PAGE).run()
    app.radio(key="dataset_source").set_value("Folder on the server").run()
    app.text_input(key="dataset_folder").set_value(str(folder)).run()
    assert not app.exception, [e.value for e in app.exception]


def engine_choices(app):
    return [radio for radio in app.radio if radio.key == "dataset_build_engine"]


def test_ray_is_offered_only_when_the_operator_allows_it_and_it_is_installed(built, small_folder, monkeypatch):
    from ui import dataset_view
    from vizcore.datasets.ray_engine import INSTALL_HINT

    monkeypatch.delenv("VIZCORE_INDEX_ENGINES", raising=False)
    chose_folder(built, small_folder)
    assert built.button(key="dataset_build_run").label == "Build the index"
    assert not engine_choices(built)  # a server that did not allow Ray shows no choice
    monkeypatch.setenv("VIZCORE_INDEX_ENGINES", "local,ray")
    monkeypatch.setattr(dataset_view.ray_engine, "available", lambda: False)
    built.run()
    assert not engine_choices(built)
    assert [box.value for box in built.info if INSTALL_HINT in box.value]  # allowed but not installed: how to install
    monkeypatch.setattr(dataset_view.ray_engine, "available", lambda: True)
    built.run()
    [choice] = engine_choices(built)
    assert (choice.options, choice.value) == (["This server", "Ray"], "local")
    # The cluster is the operator's: one that does not answer is one sentence at once, and the page keeps serving.
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    choice.set_value("ray").run()
    assert any("the Ray cluster at 127.0.0.1:1" in caption.value for caption in built.caption)
    built.button(key="dataset_build_run").click().run()
    assert not built.exception, [e.value for e in built.exception]
    assert [error.value for error in built.error] == [
        "The Ray cluster at 127.0.0.1:1 does not answer, so the index cannot be built there; use the local engine, "
        "or have the cluster's address checked."]
    built.radio(key="dataset_build_engine").set_value("local").run()  # leave the session on the default


@pytest.fixture
def local_ray():
    """A real local Ray, started by the page's build in this process; shut down after the test."""
    import ray

    yield ray
    ray.shutdown()


def test_a_build_on_a_local_ray_gives_the_local_engines_rows(built, small_folder, embedded_model, tmp_path, monkeypatch,
                                                             local_ray):
    from ui.dataset_view import indexes_root, open_index
    from vizcore.datasets.index import IndexSettings, build_index, read_images

    monkeypatch.setenv("VIZCORE_INDEX_ENGINES", "local,ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    chose_folder(built, small_folder)
    built.radio(key="dataset_build_engine").set_value("ray").run()
    assert any("a local Ray on this machine" in caption.value for caption in built.caption)
    built.button(key="dataset_build_run").click().run()
    assert not built.exception, [e.value for e in built.exception]
    assert not built.error, [error.value for error in built.error]
    assert metric(built, "Built on") == "Ray"
    [index] = [found for found in map(open_index, indexes_root().iterdir())
               if found is not None and found.location == str(small_folder)]
    local = build_index(small_folder, tmp_path / "local", embedded_model,
                        IndexSettings(layers=tuple(index.layers), batch_size=4, shard_size=32))
    ray_rows, local_rows = read_images(index.folder).to_pylist(), read_images(tmp_path / "local").to_pylist()
    assert int(metric(built, "Images")) == len(ray_rows) == local.images == 3
    assert int(metric(built, "Skipped")) == len(local.skipped) == 1
    assert [(row["path"], row["predicted"]) for row in ray_rows] == [(row["path"], row["predicted"]) for row in local_rows]
    deadline = time.monotonic() + 10
    while local_ray.available_resources().get("CPU") != local_ray.cluster_resources()["CPU"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert local_ray.available_resources().get("CPU") == local_ray.cluster_resources()["CPU"]  # its workers are gone
