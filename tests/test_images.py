"""Tests for vizcore.images: every input is generated in memory with Pillow and numpy."""

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vizcore.errors import VizcoreError
from vizcore.images import (
    ALLOWED_FORMATS,
    MAX_PIXELS,
    SAMPLE_NAMES,
    decode_image,
    encode_png,
    fit_to_model,
    image_hash,
    load_sample,
    thumbnail,
)


def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth colour gradient that lossy codecs reproduce closely."""
    rows = np.linspace(0, 255, height)[:, None]
    cols = np.linspace(0, 255, width)[None, :]
    red = np.broadcast_to(cols, (height, width))
    green = np.broadcast_to(rows, (height, width))
    blue = np.full((height, width), 128.0)
    return np.stack([red, green, blue], axis=2).round().astype(np.uint8)


def assert_rgb_array(pixels: np.ndarray, shape: tuple[int, int]) -> None:
    assert isinstance(pixels, np.ndarray)
    assert pixels.dtype == np.uint8
    assert pixels.shape == (*shape, 3)
    assert pixels.flags["C_CONTIGUOUS"]
    assert pixels.flags["WRITEABLE"]  # callers draw on the pixels they get


def assert_one_sentence(error: VizcoreError) -> None:
    message = str(error)
    assert message
    assert "\n" not in message
    assert message.endswith(".")
    assert "Traceback" not in message
    assert len(message) < 200
    # A second sentence would show up as ". " followed by more text.
    assert ". " not in message


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


# --- round-trips of ordinary files -------------------------------------------------


def test_small_rgb_image_read_in_one_copy_equals_the_banded_read(monkeypatch):
    import vizcore.images

    data = save(Image.fromarray(gradient_rgb()), "PNG")
    whole = decode_image(data)
    monkeypatch.setattr(vizcore.images, "_BAND_PIXELS", 100)  # bands of a row or two
    banded = decode_image(data)
    np.testing.assert_array_equal(whole, banded)
    assert_rgb_array(whole, (48, 64))


@pytest.mark.parametrize(
    ("fmt", "options", "tolerance"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("WEBP", {"quality": 95}, 12),
        ("JPEG", {"quality": 95}, 12),
    ],
)
def test_round_trip_keeps_shape_and_colours(fmt, options, tolerance):
    source = gradient_rgb()
    pixels = decode_image(save(Image.fromarray(source), fmt, **options))
    assert_rgb_array(pixels, (48, 64))
    difference = np.abs(pixels.astype(int) - source.astype(int))
    assert difference.max() <= tolerance
    if tolerance:
        assert difference.mean() < 3


def test_allowed_formats_constant():
    assert ALLOWED_FORMATS == ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
    assert MAX_PIXELS == 40_000_000
    assert MAX_PIXELS < Image.MAX_IMAGE_PIXELS


def test_gif_animation_gives_first_frame():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (20, 10), colour) for colour in colours]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3

    pixels = decode_image(data)
    assert_rgb_array(pixels, (10, 20))
    assert (pixels == np.array([255, 0, 0], dtype=np.uint8)).all()


def test_multipage_tiff_gives_first_page():
    pages = [Image.new("RGB", (12, 7), colour) for colour in [(10, 200, 30), (200, 10, 30)]]
    data = save(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2

    pixels = decode_image(data)
    assert_rgb_array(pixels, (7, 12))
    assert (pixels == np.array([10, 200, 30], dtype=np.uint8)).all()


def test_exif_orientation_6_is_applied():
    # Stored 40 wide x 20 high with a red block in the stored top-left corner.
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:5, :5] = (255, 0, 0)
    image = Image.fromarray(stored)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display.
    data = save(image, "PNG", exif=exif.tobytes())

    pixels = decode_image(data)
    assert_rgb_array(pixels, (40, 20))
    # After a clockwise quarter turn the stored top-left corner is displayed top-right.
    assert (pixels[:5, -5:] == [255, 0, 0]).all()
    assert (pixels[:5, :5] == [0, 0, 0]).all()
    assert (pixels[-5:, :] == [0, 0, 0]).all()


def test_exif_orientation_6_on_jpeg():
    stored = np.zeros((16, 32, 3), dtype=np.uint8)
    stored[:8, :8] = (255, 255, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = save(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())

    pixels = decode_image(data)
    assert_rgb_array(pixels, (32, 16))
    assert pixels[:8, -8:].mean() > 200
    assert pixels[:8, :8].mean() < 50


# --- transparency ----------------------------------------------------------------


def test_rgba_transparent_pixels_become_white():
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[:, :3] = (0, 0, 255, 0)  # fully transparent blue
    rgba[:, 3:] = (200, 30, 40, 255)  # opaque
    pixels = decode_image(save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert_rgb_array(pixels, (4, 6))
    assert (pixels[:, :3] == [255, 255, 255]).all()
    assert (pixels[:, 3:] == [200, 30, 40]).all()


def test_rgba_half_transparent_blends_with_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[:] = (0, 0, 0, 128)
    pixels = decode_image(save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.all(np.abs(pixels.astype(int) - 127) <= 1)


def test_la_is_composited_on_white():
    la = np.zeros((3, 4, 2), dtype=np.uint8)
    la[:, :2] = (50, 255)  # opaque dark grey
    la[:, 2:] = (0, 0)  # transparent black
    pixels = decode_image(save(Image.fromarray(la, "LA"), "PNG"))
    assert_rgb_array(pixels, (3, 4))
    assert (pixels[:, :2] == 50).all()
    assert (pixels[:, 2:] == 255).all()


def test_palette_with_transparency_is_composited_on_white():
    image = Image.new("P", (6, 2), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    image.paste(1, (3, 0, 6, 2))  # right half uses palette entry 1 (red)
    data = save(image, "PNG", transparency=0)  # palette entry 0 (black) is transparent
    assert Image.open(io.BytesIO(data)).mode == "P"

    pixels = decode_image(data)
    assert_rgb_array(pixels, (2, 6))
    assert (pixels[:, :3] == [255, 255, 255]).all()
    assert (pixels[:, 3:] == [255, 0, 0]).all()


def test_gif_transparency_is_composited_on_white():
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    image.paste(0, (0, 0, 2, 4))
    pixels = decode_image(save(image, "GIF", transparency=0))
    assert (pixels[:, :2] == [255, 255, 255]).all()
    assert (pixels[:, 2:] == [0, 0, 255]).all()


# --- unusual modes ---------------------------------------------------------------


def test_16_bit_png_is_scaled_not_clipped():
    values = np.array([[0, 32768, 65535], [257, 1000, 65535]], dtype=np.uint16)
    data = save(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")

    pixels = decode_image(data)
    assert_rgb_array(pixels, (2, 3))
    grey = pixels[:, :, 0]
    assert (pixels == grey[:, :, None]).all()
    assert grey[0, 0] == 0
    assert grey[0, 2] == 255
    assert abs(int(grey[0, 1]) - 128) <= 1
    assert grey[1, 0] == 1
    assert grey[1, 1] == 4  # 1000 / 65535 * 255 = 3.9, would be 255 if clipped


def test_16_bit_big_endian_tiff_is_scaled():
    values = np.array([[0, 65535, 32768]], dtype=np.uint16)
    image = Image.frombytes("I;16B", (3, 1), values.astype(">u2").tobytes())
    pixels = decode_image(save(image, "TIFF"))
    assert list(pixels[0, :, 0]) in ([0, 255, 128], [0, 255, 127])


def test_32_bit_integer_tiff_is_scaled_by_range():
    values = np.array([[-1000, 0, 1000]], dtype=np.int32)
    image = Image.fromarray(values, "I")
    pixels = decode_image(save(image, "TIFF"))
    assert_rgb_array(pixels, (1, 3))
    assert list(pixels[0, :, 0]) == [0, 128, 255]


def test_float_tiff_is_scaled_by_min_and_max():
    values = np.array([[-2.0, 0.0, 2.0], [1.0, -1.0, 2.0]], dtype=np.float32)
    data = save(Image.fromarray(values, "F"), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"

    pixels = decode_image(data)
    assert_rgb_array(pixels, (2, 3))
    assert list(pixels[0, :, 0]) == [0, 128, 255]
    assert list(pixels[1, :, 1]) == [191, 64, 255]


def test_cmyk_jpeg_becomes_rgb():
    image = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    data = save(image, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"

    pixels = decode_image(data)
    assert_rgb_array(pixels, (16, 16))
    red, green, blue = pixels.reshape(-1, 3).mean(axis=0)
    assert red > 220 and green < 35 and blue < 35


def test_one_bit_image_becomes_black_and_white():
    image = Image.new("1", (8, 4), 0)
    image.paste(1, (4, 0, 8, 4))
    pixels = decode_image(save(image, "PNG"))
    assert_rgb_array(pixels, (4, 8))
    assert (pixels[:, :4] == 0).all()
    assert (pixels[:, 4:] == 255).all()


def test_greyscale_becomes_three_equal_channels():
    grey = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    pixels = decode_image(save(Image.fromarray(grey, "L"), "BMP"))
    assert_rgb_array(pixels, (6, 10))
    for channel in range(3):
        assert np.array_equal(pixels[:, :, channel], grey)


# --- rejected input --------------------------------------------------------------


def truncated_jpeg() -> bytes:
    data = save(Image.fromarray(gradient_rgb(200, 200)), "JPEG", quality=90)
    return data[: len(data) // 2]


def png_with_declared_size(width: int, height: int) -> bytes:
    """A valid 2 x 2 PNG whose IHDR is patched (with a fixed CRC) to claim another size."""
    data = save(Image.new("RGB", (2, 2), (1, 2, 3)), "PNG")
    # Bytes 8-15 are the IHDR length and type; its payload starts at 16 with width, height.
    assert data[12:16] == b"IHDR"
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    patched = data[:16] + bytes(ihdr) + crc + data[33:]
    assert struct.unpack(">II", patched[16:24]) == (width, height)
    return patched


def huge_header_png() -> bytes:
    return png_with_declared_size(60000, 60000)


BAD_INPUTS = {
    "empty": b"",
    "text named like png": b"this is just a note, not a picture.png\n",
    "svg": (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="red"/></svg>'
    ),
    "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n",
    "png signature only": b"\x89PNG\r\n\x1a\n",
    "truncated jpeg": truncated_jpeg(),
    "huge png header": huge_header_png(),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_raises_one_sentence(name):
    with pytest.raises(VizcoreError) as caught:
        decode_image(BAD_INPUTS[name])
    assert_one_sentence(caught.value)


def test_messages_say_what_went_wrong():
    with pytest.raises(VizcoreError, match="empty"):
        decode_image(b"")
    with pytest.raises(VizcoreError, match="JPEG, PNG, WebP, BMP, GIF and TIFF"):
        decode_image(BAD_INPUTS["svg"])
    with pytest.raises(VizcoreError, match="damaged or incomplete"):
        decode_image(BAD_INPUTS["truncated jpeg"])
    with pytest.raises(VizcoreError, match="too large"):
        decode_image(BAD_INPUTS["huge png header"])


def test_size_is_checked_from_header_before_decoding():
    # 7000 x 7000 = 49 million pixels: over MAX_PIXELS but under Pillow's own bomb limit.
    # The pixel data is really only 2 x 2, so decoding first would report damage instead.
    data = png_with_declared_size(7000, 7000)
    with pytest.raises(VizcoreError, match="7000 x 7000") as caught:
        decode_image(data)
    assert_one_sentence(caught.value)
    assert "too large" in str(caught.value)


def test_formats_outside_the_allowed_list_are_refused():
    # Pillow can read these, but vizcore only accepts ALLOWED_FORMATS.
    for fmt in ("PPM", "TGA", "ICO"):
        data = save(Image.new("RGB", (16, 16), (9, 9, 9)), fmt)
        assert Image.open(io.BytesIO(data)).format == fmt
        with pytest.raises(VizcoreError) as caught:
            decode_image(data)
        assert_one_sentence(caught.value)


def test_max_pixels_rejects_image_over_the_cap():
    data = save(Image.new("RGB", (100, 50), (0, 0, 0)), "PNG")
    assert decode_image(data, max_pixels=5000).shape == (50, 100, 3)
    with pytest.raises(VizcoreError, match="too large") as caught:
        decode_image(data, max_pixels=4999)
    assert_one_sentence(caught.value)


def test_pillow_bomb_limit_is_an_error_not_a_warning(monkeypatch):
    # With max_pixels above Pillow's own limit, Pillow's bomb warning must still stop decoding.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = save(Image.new("RGB", (40, 40), (0, 0, 0)), "PNG")  # 1600 px: warning zone
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(VizcoreError, match="too large") as caught:
        decode_image(data, max_pixels=10**9)
    assert_one_sentence(caught.value)


def test_zero_size_image_is_rejected():
    data = save(Image.new("RGB", (1, 1)), "BMP")
    # BITMAPINFOHEADER width is a little-endian int32 at byte 18.
    patched = data[:18] + struct.pack("<i", 0) + data[22:]
    with pytest.raises(VizcoreError) as caught:
        decode_image(patched)
    assert_one_sentence(caught.value)


def test_zero_size_check_itself():
    # Pillow already refuses zero-size headers when opening; this is vizcore's own backstop.
    from vizcore.images import _check_size

    for size in [(0, 5), (5, 0), (0, 0)]:
        with pytest.raises(VizcoreError, match="zero") as caught:
            _check_size(size, MAX_PIXELS)
        assert_one_sentence(caught.value)
    _check_size((1, 1), MAX_PIXELS)


# --- hashing, samples, PNG encoding ----------------------------------------------


def test_image_hash_is_stable_and_distinguishes_pixels():
    pixels = gradient_rgb()
    digest = image_hash(pixels)
    assert isinstance(digest, str)
    assert len(digest) == 16
    int(digest, 16)
    assert image_hash(pixels.copy()) == digest

    changed = pixels.copy()
    changed[0, 0, 0] ^= 1
    assert image_hash(changed) != digest
    # Same bytes, different shape.
    assert image_hash(pixels.reshape(64, 48, 3)) != digest


def test_image_hash_ignores_memory_layout():
    pixels = gradient_rgb()
    fortran = np.asfortranarray(pixels)
    assert image_hash(fortran) == image_hash(pixels)


def test_load_sample_chelsea():
    pixels = load_sample("chelsea")
    assert_rgb_array(pixels, (300, 451))
    assert pixels.std() > 10  # a real photo, not a blank image


def test_sample_names_start_with_chelsea():
    assert SAMPLE_NAMES[0] == "chelsea"
    assert len(SAMPLE_NAMES) == len(set(SAMPLE_NAMES)) >= 5


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_loads_as_rgb(name):
    pixels = load_sample(name)
    assert pixels.dtype == np.uint8
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert pixels.flags["C_CONTIGUOUS"]
    # Colour photos: the channels are not all the same.
    assert not np.array_equal(pixels[:, :, 0], pixels[:, :, 1])


def test_unknown_sample_raises_and_lists_names():
    with pytest.raises(VizcoreError) as caught:
        load_sample("dog")
    assert_one_sentence(caught.value)
    assert "dog" in str(caught.value)
    for name in SAMPLE_NAMES:
        assert name in str(caught.value)


def test_encode_png_round_trips_exactly():
    source = gradient_rgb(33, 17)
    data = encode_png(source)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert np.array_equal(decode_image(data), source)


def test_encode_png_accepts_greyscale():
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    pixels = decode_image(encode_png(grey))
    assert np.array_equal(pixels, np.repeat(grey[:, :, None], 3, axis=2))


def test_encode_png_rejects_wrong_dtype():
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 4, 3), dtype=np.float32))


@pytest.mark.parametrize("shape", [(300, 451), (451, 300), (100, 100), (10, 3000), (2000, 1500)])
def test_fit_to_model_gives_the_model_square(shape):
    pixels = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    fitted = fit_to_model(pixels, 224)
    assert fitted.shape == (224, 224, 3) and fitted.dtype == np.uint8 and fitted.flags.c_contiguous


def test_fit_to_model_crops_the_centre():
    pixels = np.zeros((200, 600, 3), np.uint8)
    pixels[:, 200:400] = 255  # a white centre band, exactly the centre square
    fitted = fit_to_model(pixels, 100)
    assert fitted.min() >= 250


def test_thumbnail_bounds_the_longer_side():
    pixels = np.random.default_rng(0).integers(0, 256, (3000, 1200, 3), dtype=np.uint8)
    small = thumbnail(pixels, max_side=512)
    assert small.shape == (512, 205, 3) and small.dtype == np.uint8
    tiny = pixels[:100, :80]
    assert thumbnail(tiny, max_side=512) is tiny


def _jpeg(pixels: np.ndarray, orientation: int | None = None) -> bytes:
    image = Image.fromarray(pixels)
    exif = image.getexif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def test_decode_fitted_reads_a_large_jpeg_at_a_reduced_scale_and_keeps_its_full_size():
    from skimage import data

    from vizcore.images import decode_fitted

    wide = np.concatenate([data.astronaut(), data.astronaut()[:, :200]], axis=1)  # 512 x 712: decoded at 1/2
    fitted, full_size = decode_fitted(_jpeg(wide), 224)
    assert full_size == (512, 712) and fitted.shape == (224, 224, 3)
    reference = fit_to_model(decode_image(_jpeg(wide)), 224).astype(float)
    assert np.abs(fitted - reference).mean() < 4  # the same picture, to within resampling
    _, turned = decode_fitted(_jpeg(wide, orientation=6), 224)  # EXIF: a quarter turn
    assert turned == (712, 512) == decode_image(_jpeg(wide, orientation=6)).shape[:2]


def test_decode_fitted_of_a_png_is_the_full_decode_fitted():
    from vizcore.images import decode_fitted

    pixels = np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    fitted, full_size = decode_fitted(buffer.getvalue(), 224)
    assert full_size == (300, 500)
    np.testing.assert_array_equal(fitted, fit_to_model(pixels, 224))


def _pillow_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _plain_jpegs() -> dict[str, bytes]:
    from skimage import data

    photo = data.astronaut()[:300, :420]
    variants = {}
    for name, options in {"4:2:0": {"quality": 90}, "4:4:4": {"quality": 95, "subsampling": 0},
                          "4:2:2": {"quality": 85, "subsampling": 1}, "progressive": {"quality": 90, "progressive": True},
                          "optimized": {"quality": 75, "optimize": True}}.items():
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "JPEG", **options)
        variants[name] = buffer.getvalue()
    variants["opencv, restart markers"] = cv2.imencode(".jpg", photo[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80,
                                                                                 cv2.IMWRITE_JPEG_RST_INTERVAL, 4])[1].tobytes()
    variants["odd sides"] = _jpeg(photo[:211, :333])
    variants["skimage rocket.jpg"] = (Path(data.__file__).parent / "rocket.jpg").read_bytes()
    return variants


@pytest.mark.parametrize("name", list(_plain_jpegs()))
def test_a_plain_jpeg_is_decoded_by_simplejpeg_to_pillows_very_pixels(name):
    from vizcore.images import _open_checked, _plain_jpeg_pixels, decode_fitted

    data = _plain_jpegs()[name]
    assert _plain_jpeg_pixels(_open_checked(data, MAX_PIXELS), data, None) is not None  # the fast path is taken
    pixels = decode_image(data)
    np.testing.assert_array_equal(pixels, _pillow_pixels(data))
    assert pixels.flags.c_contiguous and pixels.dtype == np.uint8
    fitted, full_size = decode_fitted(data, 224)
    assert full_size == pixels.shape[:2]
    np.testing.assert_array_equal(fitted, fit_to_model(_pillow_pixels(data), 224))


def test_jpegs_that_are_not_plain_go_to_pillow_and_keep_its_results():
    from vizcore.images import _open_checked, _plain_jpeg_pixels

    rgb = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    grey, cmyk = io.BytesIO(), io.BytesIO()
    Image.fromarray(rgb).convert("L").save(grey, "JPEG")
    Image.fromarray(rgb).convert("CMYK").save(cmyk, "JPEG")
    large = _jpeg(np.zeros((500, 480, 3), np.uint8))
    not_plain = {"grey": (grey.getvalue(), None), "cmyk": (cmyk.getvalue(), None),
                 "turned by EXIF": (_jpeg(rgb, orientation=6), None), "drafted at half scale": (large, 224)}
    for name, (data, draft_side) in not_plain.items():
        assert _plain_jpeg_pixels(_open_checked(data, MAX_PIXELS), data, draft_side) is None, name
    assert decode_image(_jpeg(rgb, orientation=6)).shape == (80, 64, 3)
    np.testing.assert_array_equal(decode_image(grey.getvalue()), _pillow_pixels(grey.getvalue()))


def test_damage_libjpeg_only_warns_about_is_read_as_pillow_reads_it_and_a_cut_file_is_refused():
    import simplejpeg

    photo = _plain_jpegs()["4:2:0"]
    table = photo.index(b"\xff\xc4")
    warned = photo[:table] + b"\x00\x00" + photo[table:]  # libjpeg: "2 extraneous bytes before marker 0xc4"
    with pytest.raises(ValueError, match="extraneous bytes"):
        simplejpeg.decode_jpeg(warned, strict=True)
    np.testing.assert_array_equal(decode_image(warned), _pillow_pixels(warned))
    with pytest.raises(VizcoreError, match="damaged or incomplete"):
        decode_image(photo[: len(photo) * 2 // 3])
