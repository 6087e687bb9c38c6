"""A small ImageFolder dataset built from the bundled sample photos (crops and flips, labelled by photo)."""

from pathlib import Path

import numpy as np
from PIL import Image

import vizcore

CLASSES = ("chelsea", "coffee", "rocket")
LAYER = "stage4_block3_add"
SETTINGS = dict(layers=(LAYER,), batch_size=4, shard_size=4, top_k=3)
NOT_AN_IMAGE = "not an image vizcore can read"


def variants(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The photo, mirrored, and a centre crop: a class folder's three images."""
    height, width = pixels.shape[:2]
    return {"full.jpg": pixels, "flip.png": pixels[:, ::-1], "crop.jpg": pixels[height // 8 : -height // 8, width // 8 : -width // 8]}


def write_dataset(root: Path) -> Path:
    """Three class folders of three images each, one unlabelled photo at the top, and a text file named .jpg."""
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for file_name, pixels in variants(vizcore.load_sample(name)).items():
            Image.fromarray(np.ascontiguousarray(pixels)).save(root / name / file_name, quality=92)
    Image.fromarray(vizcore.load_sample("astronaut")).resize((256, 256)).save(root / "astronaut.png")
    (root / "notes.jpg").write_text("Shopping list: milk, eggs.\n" * 10)
    return root
