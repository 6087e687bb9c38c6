"""The demo dataset: crops and flips of photos that installed packages ship, made on first use, no download.

Every photo gives ``images_per_photo`` JPEGs in a class folder named after it (the ImageFolder
layout), so the labels are source photos (``chelsea``, ``coffee``, ``rocket``...), not the
model's classes: a model cannot be right or wrong about them, only consistent. Each image is a
random crop of 40-90% of the photo's shorter side, aspect 3:4 to 4:3, every other one mirrored,
resized so its longer side is ``IMAGE_SIDE`` px; the random generator is seeded from the photo's
name, so the same photos give the same files on every machine.

Photos: scikit-image's bundled data (a requirement of vizcore), and scikit-learn's two sample
photos when scikit-learn is installed. The set lives under the cache directory
(``$VIZCORE_CACHE_DIR``, as the converted model weights do) in a folder named after its contents,
written to a temporary folder and renamed into place once complete, so a half-written set is
never used and two processes making it at once both end with the same set.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vizcore.errors import VizcoreError
from vizcore.images import decode_image

DEMO_FORMAT = 1  # bump when the recipe below changes: the folder name changes with it
DEFAULT_IMAGES_PER_PHOTO = 16
MAX_IMAGES_PER_PHOTO = 32  # 14 photos x 32 = 448 images: a few hundred at most
IMAGE_SIDE = 256  # px, the longer side of every demo image
CROP_FRACTIONS = (0.4, 0.9)  # of the photo's shorter side
ASPECT_RANGE = (0.75, 4 / 3)  # width / height of a crop
JPEG_QUALITY = 90
DEMO_FOLDER = "demo-set"

# Label -> file in skimage/data/ (photos of scenes and things; greyscale ones become grey RGB).
_SKIMAGE_PHOTOS = {
    "astronaut": "astronaut.png",
    "brick": "brick.png",
    "cameraman": "camera.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "motorcycle": "motorcycle_left.png",
    "retina": "retina.jpg",
    "rocket": "rocket.jpg",
}
_SKLEARN_PHOTOS = {"china": "china.jpg", "flower": "flower.jpg"}


@dataclass(frozen=True)
class DemoSet:
    """A finished demo set: its folder (class subfolders) and the photos it was cut from."""

    folder: Path
    photos: tuple[str, ...]  # the labels, one per source photo
    images_per_photo: int

    @property
    def images(self) -> int:
        return len(self.photos) * self.images_per_photo

    def description(self) -> str:
        return (f"A demo set: {self.images} crops and flips of {len(self.photos)} photos that installed packages "
                f"ship ({', '.join(self.photos)}), labelled by source photo, not by ImageNet class.")


def source_photos() -> dict[str, Path]:
    """Label -> photo file for every demo photo installed here, in label order."""
    import skimage.data

    photos = {label: Path(skimage.data.data_dir) / name for label, name in _SKIMAGE_PHOTOS.items()}
    sklearn = importlib.util.find_spec("sklearn")  # found, not imported: importing it takes seconds
    if sklearn is not None and sklearn.submodule_search_locations:
        folder = Path(list(sklearn.submodule_search_locations)[0]) / "datasets" / "images"
        photos.update({label: folder / name for label, name in _SKLEARN_PHOTOS.items()})
    return {label: path for label, path in sorted(photos.items()) if path.is_file()}


def demo_variants(pixels: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """``count`` crops of uint8 RGB ``pixels`` (every other one mirrored), longer side IMAGE_SIDE px."""
    generator = np.random.default_rng(seed)
    height, width = pixels.shape[:2]
    shorter = min(height, width)
    variants = []
    for number in range(count):
        side = shorter * generator.uniform(*CROP_FRACTIONS)
        aspect = generator.uniform(*ASPECT_RANGE)
        crop_w = int(min(width, round(side * np.sqrt(aspect))))
        crop_h = int(min(height, round(side / np.sqrt(aspect))))
        top = int(generator.integers(0, height - crop_h + 1))
        left = int(generator.integers(0, width - crop_w + 1))
        crop = pixels[top : top + crop_h, left : left + crop_w]
        if number % 2:
            crop = crop[:, ::-1]
        scale = IMAGE_SIDE / max(crop_h, crop_w)
        size = (max(1, round(crop_w * scale)), max(1, round(crop_h * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        variants.append(cv2.resize(np.ascontiguousarray(crop), size, interpolation=interpolation))
    return variants


def _seed(label: str) -> int:
    return int.from_bytes(hashlib.sha256(f"vizcore-demo:{label}".encode()).digest()[:4], "little")


def _folder_name(photos: dict[str, Path], images_per_photo: int) -> str:
    digest = hashlib.sha256()
    for label, path in photos.items():
        digest.update(f"{label}\0{path.name}\0{path.stat().st_size}\n".encode())
    return f"v{DEMO_FORMAT}-{images_per_photo}-{digest.hexdigest()[:12]}"


def _write_set(folder: Path, photos: dict[str, Path], images_per_photo: int) -> None:
    for label, path in photos.items():
        (folder / label).mkdir()
        pixels = decode_image(path.read_bytes())
        for number, variant in enumerate(demo_variants(pixels, images_per_photo, _seed(label))):
            buffer = io.BytesIO()
            Image.fromarray(variant).save(buffer, format="JPEG", quality=JPEG_QUALITY)
            (folder / label / f"{label}_{number:02d}.jpg").write_bytes(buffer.getvalue())


def demo_root() -> Path:
    """The folder every demo set lives in: ``<cache dir>/demo-set``."""
    from vizcore.models.efficientnet_lite import cache_dir

    return Path(cache_dir()) / DEMO_FOLDER


def ensure_demo_set(images_per_photo: int = DEFAULT_IMAGES_PER_PHOTO) -> DemoSet:
    """The demo set with ``images_per_photo`` images (1 to MAX_IMAGES_PER_PHOTO) per photo, made on first use.

    Raises VizcoreError with one sentence when the count is out of range, no photo is installed or
    the cache directory cannot be written.
    """
    if not 1 <= images_per_photo <= MAX_IMAGES_PER_PHOTO:
        raise VizcoreError(f"The demo set has 1 to {MAX_IMAGES_PER_PHOTO} images per photo, not {images_per_photo}.")
    photos = source_photos()
    if not photos:
        raise VizcoreError("No demo photos are installed: reinstall scikit-image (pip install -r requirements.txt).")
    root = demo_root()
    folder = root / _folder_name(photos, images_per_photo)
    demo = DemoSet(folder, tuple(photos), images_per_photo)
    if folder.is_dir():
        return demo
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))  # hidden: never listed as a set
    except OSError as error:
        raise VizcoreError(f"The demo set cannot be written to {root} ({error.strerror or 'not writable'}).") from None
    try:
        _write_set(partial, photos, images_per_photo)
        try:
            os.rename(partial, folder)
        except OSError:
            if not folder.is_dir():  # someone else's finished set is as good as ours; anything else is a failure
                raise
    except OSError as error:
        raise VizcoreError(f"The demo set cannot be written to {root} ({error.strerror or 'not writable'}).") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return demo
