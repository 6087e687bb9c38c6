"""The recipe on a user-style model: the embedding is the last Dense layer's input, maxima are where they are."""

import numpy as np

from vizcore.datasets.recipe import IndexRecipe, embedding_layer


def test_a_nested_model_embeds_at_its_last_dense_input(nested_loaded, nested_model):
    assert embedding_layer(nested_loaded) == "pool"
    recipe = IndexRecipe(nested_loaded, ("base_conv2",), batch_size=4)
    images = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    outputs = recipe({"image": images, "path": np.array(["a", "b", "c"])})
    assert outputs["path"].tolist() == ["a", "b", "c"]  # other columns pass through
    base = nested_model.get_layer("base")
    features = np.asarray(base(images.astype(np.float32) / 255.0))
    assert np.allclose(outputs["embedding"], features.mean(axis=(1, 2)), atol=1e-2, rtol=1e-2)
    maxima = features.reshape(3, -1, 12).max(axis=1)
    assert np.allclose(outputs["base_conv2/max"], maxima, rtol=1e-4, atol=1e-5)
    y, x = outputs["base_conv2/y"], outputs["base_conv2/x"]
    picked = features[np.arange(3)[:, None], y, x, np.arange(12)[None, :]]
    assert np.allclose(picked, maxima, rtol=1e-4, atol=1e-5)
    probabilities = np.asarray(nested_model(images.astype(np.float32) / 255.0))
    assert (outputs["top_classes"][:, 0] == probabilities.argmax(axis=1)).all()
    assert np.allclose(outputs["top_probabilities"].sum(axis=1), 1, atol=1e-4)  # 3 classes: all of them


def test_batches_side_by_side_give_each_batch_its_own_columns(nested_loaded):
    recipe = IndexRecipe(nested_loaded, ("base_conv2",), batch_size=4)
    rng = np.random.default_rng(1)
    batches = [{"image": rng.integers(0, 256, (count, 48, 48, 3), dtype=np.uint8), "path": np.array([str(count)] * count)}
               for count in (4, 2, 3)]
    together = recipe.map(batches)
    assert recipe.map([]) == []
    for batch, columns in zip(batches, together, strict=True):
        alone = recipe(batch)
        assert columns.keys() == alone.keys() and columns["path"].tolist() == batch["path"].tolist()
        for name, value in alone.items():
            assert np.allclose(columns[name].astype(np.float32), value.astype(np.float32), atol=1e-5), name


def test_the_side_by_side_thread_lives_as_long_as_its_recipe(nested_loaded):
    import gc
    import threading
    import time
    import weakref

    def helpers():
        return {thread for thread in threading.enumerate() if thread.name.startswith("vizcore-index-batch")}

    before = helpers()
    recipe = IndexRecipe(nested_loaded, ("base_conv2",), batch_size=2)
    batch = {"image": np.zeros((2, 48, 48, 3), dtype=np.uint8)}
    for _ in range(3):
        recipe.map([batch, batch])
    [mine] = helpers() - before  # one thread for every call, not one per call
    dropped = weakref.ref(recipe)
    del recipe
    gc.collect()
    mine.join(timeout=5)
    assert dropped() is None and not mine.is_alive()
