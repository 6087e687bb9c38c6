"""Turn untrusted image bytes into RGB pixel arrays, and provide the sample gallery.

Every image vizcore works with is a C-contiguous ``numpy.ndarray`` of shape
(height, width, 3), dtype ``uint8``, holding RGB values from 0 to 255.
``decode_image`` is the only door for user uploads: Pillow reads and checks every
file's header, plain colour JPEGs are then decoded by simplejpeg (the same
libjpeg-turbo, the same pixels, half the time) and everything else by Pillow;
whatever goes wrong comes out as a ``VizcoreError`` carrying one plain sentence.
"""

from __future__ import annotations

import hashlib
import io
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image, ImageOps

from vizcore.errors import VizcoreError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")

# Far below Pillow's own bomb limit (Image.MAX_IMAGE_PIXELS, about 89 million),
# so that we refuse large images ourselves, with our own message, before decoding.
MAX_PIXELS = 40_000_000
MAX_FILE_BYTES = 64 * 2**20

# Pixels are converted to RGB in bands of about this many pixels, so that an image at the
# MAX_PIXELS cap costs its Pillow copy and the output array, not several full-size temporaries.
_BAND_PIXELS = 2**20

# How each of ALLOWED_FORMATS starts: such a file that Pillow cannot open is damaged, not foreign.
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")

# Sample name -> file shipped inside scikit-image's skimage/data/ folder.
# Only colour photos that ship with the package are listed, so loading never
# needs the network. skimage.data.cat() is the same file as chelsea, so it is left out.
_SAMPLE_FILES = {
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "astronaut": "astronaut.png",
    "rocket": "rocket.jpg",
    "motorcycle_left": "motorcycle_left.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
}
SAMPLE_NAMES = tuple(_SAMPLE_FILES)

_WHITE = 255
_EXIF_ORIENTATION = 0x0112
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")

_MSG_EMPTY = "The file is empty, so there is no image to read."
_MSG_NOT_IMAGE = (
    "This file is not an image vizcore can read: "
    "supported formats are JPEG, PNG, WebP, BMP, GIF and TIFF."
)
_MSG_DAMAGED = "This image file is damaged or incomplete, so vizcore cannot read it."
_MSG_NO_PIXELS = "This image has a width or height of zero pixels, so there is nothing to show."
_MSG_BAD_COLOURS = "This image uses a colour format that vizcore cannot convert to ordinary RGB colours."


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode untrusted image file bytes into an RGB pixel array.

    Only the formats in ``ALLOWED_FORMATS`` are accepted. Animated GIFs and
    multi-page TIFFs give their first frame. The EXIF orientation tag is
    applied, transparent pixels are laid over white, and 16-bit, 32-bit and
    floating-point pixels are rescaled to 0-255.

    Args:
        data: the raw bytes of an image file.
        max_pixels: largest width x height (in pixels) accepted; checked from
            the file header before any pixel data is decoded.

    Returns:
        A C-contiguous uint8 array of shape (height, width, 3), values 0-255.

    Raises:
        VizcoreError: the bytes are empty, not a supported image, damaged,
            too large, or in a colour format that cannot be converted.
    """
    pixels, _ = _decode(data, max_pixels)
    return pixels


def decode_fitted(data: bytes, size: int, *, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, tuple[int, int]]:
    """``fit_to_model(decode_image(data), size)`` and the image's full (height, width), both upright.

    For a dataset pass, where decoding is the cost: a JPEG whose sides are both at least twice
    ``size`` is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, a fraction of the work),
    the largest reduction that keeps both sides at least ``size``, so the fitted picture is the
    full decode's to within resampling. Checks and errors are decode_image's.
    """
    pixels, full_size = _decode(data, max_pixels, draft_side=size)
    return fit_to_model(pixels, size), full_size


def _decode(data: bytes, max_pixels: int, draft_side: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    if not data:
        raise VizcoreError(_MSG_EMPTY)
    if len(data) > MAX_FILE_BYTES:
        # No measured size in the sentence: rounded, a file just over the cap would read "64 MB, more than 64 MB",
        # and the CLI reads only MAX_FILE_BYTES + 1 bytes of a bigger file.
        raise VizcoreError(f"This file is larger than the {MAX_FILE_BYTES // 2**20} MB vizcore accepts for an image.")
    # No warnings.catch_warnings() here: it swaps process-global filters and is not thread-safe under
    # Streamlit. MAX_PIXELS is below Pillow's DecompressionBombWarning threshold, so _check_size refuses
    # those images first anyway; Pillow's DecompressionBombError (2x the threshold) is still caught.
    data = bytes(data)
    image = _open_checked(data, max_pixels)
    plain = _plain_jpeg_pixels(image, data, draft_side)
    if plain is not None:
        return plain, plain.shape[:2]
    image, full_size = _load_upright(image, max_pixels, draft_side)
    pixels = _to_rgb_array(image)
    return np.ascontiguousarray(pixels, dtype=np.uint8), full_size


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """The file opened (its header read, no pixels decoded), its first frame chosen and its size checked."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise VizcoreError(_too_large_message(None, max_pixels)) from error
    except Image.UnidentifiedImageError as error:
        raise VizcoreError(_MSG_DAMAGED if _has_allowed_signature(data) else _MSG_NOT_IMAGE) from error
    except Exception as error:  # Pillow raises many types on malformed headers.
        raise VizcoreError(_MSG_DAMAGED) from error
    with _decoding_errors(image, max_pixels):
        image.seek(0)
        _check_size(image.size, max_pixels)
    return image


def _plain_jpeg_pixels(image: Image.Image, data: bytes, draft_side: int | None) -> np.ndarray | None:
    """A plain colour JPEG's pixels from libjpeg-turbo straight into numpy (simplejpeg), or None for Pillow to decode.

    The same library and settings as Pillow's decoder, so the same pixels (tests/test_images.py
    checks), in about half the time: Pillow decodes into its own 4-byte layout and copies out.
    None, and Pillow as before, for anything less plain: another format or colour mode, an EXIF
    turn, a draft scale that applies (decode_fitted), a header simplejpeg reads differently, or any
    damage libjpeg reports, even what Pillow would let pass.
    """
    if image.format != "JPEG" or image.mode != "RGB":
        return None
    if draft_side and min(image.size) >= 2 * draft_side:  # Pillow's draft decodes this at a reduced scale
        return None
    try:
        if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
            return None
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        if (width, height) != image.size:
            return None
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except Exception:  # damaged EXIF or data: Pillow's path gives the sentence
        return None
    return pixels if pixels.shape == (height, width, 3) and pixels.flags.c_contiguous else None


def _load_upright(image: Image.Image, max_pixels: int, draft_side: int | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """Decode the opened image, at a reduced JPEG scale when ``draft_side`` allows, and apply its EXIF
    orientation; with its full upright (height, width)."""
    with _decoding_errors(image, max_pixels):
        width, height = image.size
        if draft_side and image.format == "JPEG":
            image.draft(image.mode, (draft_side, draft_side))  # keeps both sides at least draft_side
        drafted = image.size
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # in place: no second full-size copy
        turned = image.size != drafted and image.size == drafted[::-1]  # EXIF turned it a quarter
        return image, ((width, height) if turned else (height, width))


@contextmanager
def _decoding_errors(image: Image.Image, max_pixels: int):
    """Whatever Pillow raises while reading ``image`` as one sentence."""
    try:
        yield
    except VizcoreError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise VizcoreError(_too_large_message(image.size, max_pixels)) from error
    except Exception as error:  # truncated data, bad EXIF, decoder failures
        raise VizcoreError(_MSG_DAMAGED) from error


def _has_allowed_signature(data: bytes) -> bool:
    return data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse images with no pixels or more than ``max_pixels`` pixels."""
    width, height = size
    if width <= 0 or height <= 0:
        raise VizcoreError(_MSG_NO_PIXELS)
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)  # never looser than Pillow's bomb limit
    if width * height > limit:
        raise VizcoreError(_too_large_message(size, limit))


def _too_large_message(size: tuple[int, int] | None, max_pixels: int) -> str:
    if size is None:  # Pillow refused it before telling us the size.
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        return f"This image is too large to process: the limit is {limit:,} pixels."
    width, height = size
    return (
        f"This image is too large to process: {width} x {height} pixels "
        f"is more than the limit of {max_pixels:,} pixels."
    )


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any supported mode to (H, W, 3) uint8."""
    try:
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
            grey = _scale_to_uint8(np.asarray(image))
            return np.repeat(grey[:, :, np.newaxis], 3, axis=2)
        has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
        width, height = image.size
        if image.mode == "RGB" and not has_alpha and width * height <= _BAND_PIXELS:
            # One band: np.array is a single copy, where crop + convert + assign make three (a third of a dataset decode).
            return np.array(image)
        pixels = np.empty((height, width, 3), dtype=np.uint8)
        rows = max(1, _BAND_PIXELS // width)
        for top in range(0, height, rows):
            band = image.crop((0, top, width, min(top + rows, height)))
            if has_alpha:
                pixels[top : top + rows] = _composite_on_white(np.asarray(band.convert("RGBA")))
            else:
                pixels[top : top + rows] = np.asarray(band.convert("RGB"))
        return pixels
    except (ValueError, OSError) as error:
        raise VizcoreError(_MSG_BAD_COLOURS) from error


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Rescale a 2-D array of 16-bit, 32-bit or float values to 0-255 uint8.

    Unsigned 16-bit data, and 32-bit integer data whose values fit in 0-65535
    (how older Pillow versions present 16-bit files), is scaled by its bit
    depth, so 65535 becomes 255. Anything else is stretched from its own
    minimum to its maximum; an image of a single value becomes black.
    """
    if values.dtype.kind == "u" or (
        values.dtype.kind == "i" and values.size and values.min() >= 0 and values.max() <= 65535
    ):
        wide = values.astype(np.uint32)
        return ((wide * 255 + 32767) // 65535).astype(np.uint8)

    floats = values.astype(np.float64)
    finite = np.isfinite(floats)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = floats[finite].min(), floats[finite].max()
    floats = np.where(finite, floats, low)
    if high == low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((floats - low) * (255.0 / (high - low))).astype(np.uint8)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Lay an (H, W, 4) uint8 RGBA array over a white background; returns (H, W, 3) uint8."""
    # colour * alpha + 255 * (255 - alpha) + 127 is at most 65152, so 16 bits suffice.
    colour = rgba[:, :, :3].astype(np.uint16)
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    colour *= alpha
    colour += _WHITE * (255 - alpha) + 127
    colour //= 255
    return colour.astype(np.uint8)


def image_hash(pixels: np.ndarray) -> str:
    """Return a short, stable hex digest of a pixel array, for use as a cache key.

    The digest covers the array's shape, dtype and bytes (in C order), and is
    the first 16 hex characters of their SHA-1.
    """
    digest = hashlib.sha1()
    digest.update(repr(tuple(pixels.shape)).encode("ascii"))
    digest.update(pixels.dtype.str.encode("ascii"))
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()[:16]


def load_sample(name: str) -> np.ndarray:
    """Load one of the bundled sample photos as a (H, W, 3) uint8 RGB array (0-255).

    The files ship with scikit-image, so this works offline.

    Raises:
        VizcoreError: ``name`` is not one of ``SAMPLE_NAMES``.
    """
    if name not in _SAMPLE_FILES:
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        raise VizcoreError(
            f"There is no sample image called {shown}: "
            f"choose one of {', '.join(SAMPLE_NAMES)}."
        )
    return decode_image(_sample_path(name).read_bytes())


def _sample_path(name: str) -> Path:
    # Read the file straight from skimage/data/ instead of calling skimage.data.<name>(),
    # which may go through pooch and try to fetch from the network.
    import skimage.data

    return Path(skimage.data.data_dir) / _SAMPLE_FILES[name]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images with values in 0..1 (an optimised image, any shape) as 0-255 uint8, rounded."""
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode a uint8 pixel array, (H, W, 3) RGB or (H, W) greyscale, 0-255, as PNG bytes."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"encode_png needs uint8 pixels, got {pixels.dtype}")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ValueError(f"encode_png needs an (H, W) or (H, W, 3) array, got shape {pixels.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()


def fit_to_model(pixels: np.ndarray, size: int) -> np.ndarray:
    """The image as a model with a ``size`` x ``size`` input sees it: uint8 RGB, size x size x 3.

    The shorter side is resized to ``size`` (area averaging when shrinking, so fine detail does not
    alias; bicubic when enlarging) and the longer side is centre-cropped, the usual ImageNet
    evaluation framing. Every method crops the same way, so maps line up with this picture.
    """
    height, width = pixels.shape[:2]
    side = min(height, width)
    # Cropped before resizing: a 20000 x 8 strip would otherwise be enlarged whole (560000 x 224) first.
    top, left = (height - side) // 2, (width - side) // 2
    square = pixels[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if size < side else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(square, (size, size), interpolation=interpolation))


def thumbnail(pixels: np.ndarray, max_side: int = 512) -> np.ndarray:
    """A uint8 RGB copy whose longer side is at most ``max_side`` pixels (smaller images are returned as is)."""
    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class PreparedImage:
    """Decoded pixels with what every rerun needs of them, computed once per image."""

    pixels: np.ndarray  # H x W x 3 uint8 RGB
    key: str  # image_hash(pixels), the cache key for results
    preview: np.ndarray  # thumbnail(pixels), for the sidebar


def prepare_image(pixels: np.ndarray) -> PreparedImage:
    return PreparedImage(pixels, image_hash(pixels), thumbnail(pixels))
