"""The hostile image corpus of issue #6: files a careless or malicious user could hand to vizcore.

``CASES`` maps a case name to ``(write, expectation)``. ``write(folder)`` creates one file in
``folder`` and returns its path; ``expectation`` is either

- ``Refused(says)``: vizcore must refuse the file with one sentence that contains ``says``, or
- ``Accepted(height, width, promise, check)``: vizcore must decode it to a (height, width, 3)
  uint8 RGB array for which ``check(pixels)`` is true; ``promise`` says that property in words.

Every file is generated here with Pillow, numpy, zlib and struct; nothing is downloaded. The
decompression bombs are written chunk by chunk from a repeated compressed block, so their
pixels are never held in memory, and the file over the size cap is sparse (it takes no disk).
``python tests/make_hostile_corpus.py`` writes them all to tests/hostile/ for trying by hand.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from vizcore.images import MAX_FILE_BYTES, MAX_PIXELS


@dataclass(frozen=True)
class Refused:
    """vizcore must refuse the file with one sentence containing ``says``."""

    says: str


@dataclass(frozen=True)
class Accepted:
    """vizcore must decode the file to ``height`` x ``width`` RGB uint8 pixels meeting ``check``."""

    height: int
    width: int
    promise: str
    check: Callable[[np.ndarray], bool]


Writer = Callable[[Path], Path]
CASES: dict[str, tuple[Writer, Refused | Accepted]] = {}

# The sentences' key words, as vizcore.images words them.
EMPTY = "empty"
NOT_AN_IMAGE = "not an image vizcore can read"
DAMAGED = "damaged or incomplete"
TOO_LARGE = "too large"
TOO_MANY_BYTES = "larger than the 64 MB"
ZERO_SIZE = "zero pixels"

BOMB_SIDE = 30_000  # a 30000 x 30000 grey PNG inflates to 900 MB
RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)
LOSSY_TOLERANCE = 40  # per channel, for JPEG and lossy WebP colour patches


def case(name: str, expectation: Refused | Accepted):
    """Register the decorated writer under ``name``."""

    def register(write: Writer) -> Writer:
        assert name not in CASES, name
        CASES[name] = (write, expectation)
        return write

    return register


# --- building blocks ---------------------------------------------------------------


def _save(image: Image.Image, path: Path, fmt: str, **options) -> Path:
    image.save(path, format=fmt, **options)
    return path


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _quadrants(colours, side: int = 16) -> np.ndarray:
    """A (2 side) x (2 side) RGB image with four flat colours: top-left, top-right, bottom-left, bottom-right."""
    pixels = np.zeros((2 * side, 2 * side, 3), dtype=np.uint8)
    for (row, col), colour in zip([(0, 0), (0, 1), (1, 0), (1, 1)], colours):
        pixels[row * side : (row + 1) * side, col * side : (col + 1) * side] = colour
    return pixels


QUADRANT_COLOURS = (RED, GREEN, BLUE, WHITE)
QUADRANTS = _quadrants(QUADRANT_COLOURS)


def _quadrants_close(pixels: np.ndarray, colours=QUADRANT_COLOURS, tolerance: int = LOSSY_TOLERANCE) -> bool:
    """Each quadrant's centre averages within ``tolerance`` of its expected colour (edges blur in lossy codecs)."""
    height, width = pixels.shape[:2]
    half_h, half_w, margin_h, margin_w = height // 2, width // 2, height // 8, width // 8
    for (row, col), colour in zip([(0, 0), (0, 1), (1, 0), (1, 1)], colours):
        block = pixels[row * half_h + margin_h : (row + 1) * half_h - margin_h,
                       col * half_w + margin_w : (col + 1) * half_w - margin_w]
        if np.abs(block.reshape(-1, 3).mean(axis=0) - colour).max() > tolerance:
            return False
    return True


def _is_colour(colour) -> Callable[[np.ndarray], bool]:
    return lambda pixels: bool((pixels == np.array(colour, dtype=np.uint8)).all())


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_file(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes, extra: bytes = b"") -> bytes:
    """A PNG from its parts: IHDR, optional extra chunks (already framed), one IDAT, IEND."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def zlib_of_zeros(total_bytes: int, block_bytes: int = 32 * 2**20) -> bytes:
    """A valid zlib stream that inflates to ``total_bytes`` zero bytes, built without holding them.

    After a full flush, deflate output is byte-aligned and no longer refers back, so the compressed
    form of one zero block can be repeated; the stream ends with an empty final block and the
    Adler-32 of all the zeros.
    """
    repeats, remainder = divmod(total_bytes, block_bytes)
    zeros = bytes(block_bytes)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(b"") + compressor.flush(zlib.Z_FULL_FLUSH)]  # just the zlib header
    if repeats:
        parts.append(compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH))
        parts.extend([parts[-1]] * (repeats - 1))
    if remainder:
        parts.append(compressor.compress(zeros[:remainder]) + compressor.flush(zlib.Z_FULL_FLUSH))
    parts.append(compressor.flush(zlib.Z_FINISH)[:-4])  # the final block, without this object's checksum
    checksum = 1
    for _ in range(repeats):
        checksum = zlib.adler32(zeros, checksum)
    checksum = zlib.adler32(zeros[:remainder], checksum)
    parts.append(struct.pack(">I", checksum))
    return b"".join(parts)


def tiff_file(width: int, height: int, strip: bytes, compression: int = 1, extra_tags=()) -> bytes:
    """A little-endian greyscale 8-bit TIFF with one strip; ``extra_tags``: (tag, type, count, value) entries."""
    short, long_ = 3, 4
    strip_offset = 8
    tags = {  # tag: (type, count, value)
        256: (long_, 1, width),
        257: (long_, 1, height),
        258: (short, 1, 8),
        259: (short, 1, compression),
        262: (short, 1, 1),  # BlackIsZero
        273: (long_, 1, strip_offset),
        277: (short, 1, 1),
        278: (long_, 1, height),
        279: (long_, 1, len(strip)),
    }
    tags.update({tag: (kind, count, value) for tag, kind, count, value in extra_tags})  # extras replace defaults
    ifd_offset = strip_offset + len(strip) + (len(strip) % 2)
    ifd = struct.pack("<H", len(tags))
    for tag in sorted(tags):
        kind, count, value = tags[tag]
        packed = struct.pack("<HI", value, 0)[:4] if kind == short else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + strip + b"\x00" * (len(strip) % 2) + ifd


# --- refused: not an image, or not one of ours --------------------------------------


@case("empty_file", Refused(EMPTY))
def write_empty(folder: Path) -> Path:
    path = folder / "empty.png"
    path.write_bytes(b"")
    return path


@case("text_named_png", Refused(NOT_AN_IMAGE))
def write_text_named_png(folder: Path) -> Path:
    path = folder / "holiday.png"
    path.write_text("Dear diary, today I renamed a text file to .png.\n" * 20)
    return path


@case("svg", Refused(NOT_AN_IMAGE))
def write_svg(folder: Path) -> Path:
    path = folder / "drawing.svg"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY lol "lol">]>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000">'
        '<rect width="100%" height="100%" fill="red"/><text>&lol;</text></svg>\n'
    )
    return path


@case("pdf", Refused(NOT_AN_IMAGE))
def write_pdf(folder: Path) -> Path:
    # Pillow writes PDFs but cannot read them back: vizcore must not even try.
    return _save(Image.fromarray(QUADRANTS), folder / "scan.pdf", "PDF")


@case("eps_postscript", Refused(NOT_AN_IMAGE))
def write_eps(folder: Path) -> Path:
    # Pillow would run Ghostscript to render this: PostScript is a program.
    path = folder / "figure.eps"
    path.write_bytes(
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n%%EndComments\n"
        b"newpath 0 0 moveto 16 0 lineto 16 16 lineto closepath fill\n"
        b"(/etc/passwd) (r) file pop\nshowpage\n%%EOF\n"
    )
    return path


@case("ico_not_allowed", Refused(NOT_AN_IMAGE))
def write_ico(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS), folder / "favicon.ico", "ICO")


@case("psd_not_allowed", Refused(NOT_AN_IMAGE))
def write_psd(folder: Path) -> Path:
    # Pillow cannot write PSD: an 8-bit RGB one with raw (uncompressed) planes, by hand.
    height, width = QUADRANTS.shape[:2]
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers: all empty
    planes = QUADRANTS.transpose(2, 0, 1).tobytes()
    path = folder / "layers.psd"
    path.write_bytes(header + sections + struct.pack(">H", 0) + planes)
    return path


@case("pcx_not_allowed", Refused(NOT_AN_IMAGE))
def write_pcx(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS), folder / "paint.pcx", "PCX")


@case("jpeg2000_not_allowed", Refused(NOT_AN_IMAGE))
def write_jpeg2000(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS), folder / "photo.jp2", "JPEG2000")


@case("avif_not_allowed", Refused(NOT_AN_IMAGE))
def write_avif(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS), folder / "photo.avif", "AVIF")


# --- refused: too big -----------------------------------------------------------------


@case("png_decompression_bomb", Refused(TOO_LARGE))
def write_png_bomb(folder: Path) -> Path:
    # 30000 rows of (filter byte + 30000 grey pixels), all zero: 900 MB inflated, under 1 MB on disk.
    idat = zlib_of_zeros(BOMB_SIDE * (BOMB_SIDE + 1))
    path = folder / "bomb.png"
    path.write_bytes(png_file(BOMB_SIDE, BOMB_SIDE, 8, 0, idat))
    return path


@case("png_huge_header_no_pixels", Refused(TOO_LARGE))
def write_png_huge_header(folder: Path) -> Path:
    # 1,000,000 x 1,000,000 RGB claimed, and an empty pixel chunk: the header alone must decide.
    path = folder / "header_only.png"
    path.write_bytes(png_file(1_000_000, 1_000_000, 8, 2, b""))
    return path


@case("png_just_over_the_pixel_cap", Refused(TOO_LARGE))
def write_png_over_cap(folder: Path) -> Path:
    # Under Pillow's own bomb limit, over vizcore's: vizcore's check must catch it from the header.
    width = height = int(MAX_PIXELS**0.5) + 1
    path = folder / "just_over_cap.png"
    path.write_bytes(png_file(width, height, 8, 0, zlib_of_zeros(height * (width + 1))))
    return path


@case("tiff_deflate_bomb", Refused(TOO_LARGE))
def write_tiff_bomb(folder: Path) -> Path:
    side = 20_000  # 400 MB of grey pixels in one deflate strip
    path = folder / "bomb.tiff"
    path.write_bytes(tiff_file(side, side, zlib_of_zeros(side * side), compression=8))
    return path


@case("gif_huge_logical_screen", Refused(TOO_LARGE))
def write_gif_huge_screen(folder: Path) -> Path:
    data = bytearray(_encoded(Image.new("P", (1, 1), 0), "GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)  # the logical screen, which Pillow uses as the size
    path = folder / "huge_screen.gif"
    path.write_bytes(bytes(data))
    return path


@case("jpeg_huge_frame_header", Refused(TOO_LARGE))
def write_jpeg_huge_sof(folder: Path) -> Path:
    data = bytearray(_encoded(Image.fromarray(QUADRANTS), "JPEG", quality=90))
    start = data.index(b"\xff\xc0")  # baseline start-of-frame: length, precision, height, width
    data[start + 5 : start + 9] = struct.pack(">HH", 65000, 65000)
    path = folder / "huge_frame.jpg"
    path.write_bytes(bytes(data))
    return path


@case("bmp_huge_dimensions", Refused(TOO_LARGE))
def write_bmp_huge(folder: Path) -> Path:
    data = bytearray(_encoded(Image.fromarray(QUADRANTS), "BMP"))
    data[18:26] = struct.pack("<ii", 50_000, 50_000)
    path = folder / "huge.bmp"
    path.write_bytes(bytes(data))
    return path


@case("file_over_the_size_cap", Refused(TOO_MANY_BYTES))
def write_over_size_cap(folder: Path) -> Path:
    # A valid PNG padded (sparsely, no disk used) to 1 MB over the cap.
    path = _save(Image.fromarray(QUADRANTS), folder / "padded.png", "PNG")
    os.truncate(path, MAX_FILE_BYTES + 2**20)
    return path


@case("png_ztxt_bomb", Refused(DAMAGED))
def write_png_ztxt_bomb(folder: Path) -> Path:
    # A compressed text chunk that inflates to 256 MB: Pillow stops at 1 MB and calls it damaged.
    text = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib_of_zeros(256 * 2**20))
    idat = zlib.compress(b"\x00" + bytes(4))  # one row: filter byte, four grey pixels
    path = folder / "text_bomb.png"
    path.write_bytes(png_file(4, 1, 8, 0, idat, extra=text))
    return path


# --- refused: damaged -----------------------------------------------------------------


@case("png_zero_width", Refused(DAMAGED))
def write_png_zero_width(folder: Path) -> Path:
    path = folder / "zero_width.png"
    path.write_bytes(png_file(0, 16, 8, 0, zlib.compress(b"\x00" * 16)))
    return path


@case("truncated_png", Refused(DAMAGED))
def write_truncated_png(folder: Path) -> Path:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _encoded(Image.fromarray(noise), "PNG")
    path = folder / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    return path


@case("truncated_jpeg", Refused(DAMAGED))
def write_truncated_jpeg(folder: Path) -> Path:
    noise = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    data = _encoded(Image.fromarray(noise), "JPEG", quality=90)
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


@case("png_bad_header_crc", Refused(DAMAGED))
def write_png_bad_crc(folder: Path) -> Path:
    data = bytearray(_encoded(Image.fromarray(QUADRANTS), "PNG"))
    data[29] ^= 0xFF  # first byte of the IHDR checksum
    path = folder / "bad_crc.png"
    path.write_bytes(bytes(data))
    return path


@case("png_corrupt_pixel_data", Refused(DAMAGED))
def write_png_corrupt_idat(folder: Path) -> Path:
    path = folder / "corrupt_idat.png"
    path.write_bytes(png_file(16, 16, 8, 2, b"\x78\x9c" + bytes(range(200))))
    return path


@case("bmp_bogus_header", Refused(DAMAGED))
def write_bmp_bogus(folder: Path) -> Path:
    data = bytearray(_encoded(Image.fromarray(QUADRANTS), "BMP"))
    data[28:30] = struct.pack("<H", 13)  # 13 bits per pixel does not exist
    data[30:34] = struct.pack("<I", 0x7FFFFFFF)  # nor does compression method 2147483647
    path = folder / "bogus.bmp"
    path.write_bytes(bytes(data))
    return path


@case("tiff_huge_strip_count", Refused(DAMAGED))
def write_tiff_huge_strip_count(folder: Path) -> Path:
    # The strip tables claim 2^28 entries (a gigabyte each) that the file does not hold.
    huge = 2**28
    tags = [(273, 4, huge, 8), (278, 4, 1, 1), (279, 4, huge, 8)]
    path = folder / "strips.tiff"
    path.write_bytes(tiff_file(64, 64, bytes(64 * 64), extra_tags=tags))
    return path


@case("gif_without_image", Refused(DAMAGED))
def write_gif_without_image(folder: Path) -> Path:
    # Header, logical screen, a two-colour table and the trailer: no image block at all.
    path = folder / "no_image.gif"
    path.write_bytes(b"GIF89a" + struct.pack("<HHBBB", 8, 8, 0x80, 0, 0) + bytes(6) + b";")
    return path


# --- accepted: unusual but legitimate ---------------------------------------------------


@case("one_pixel", Accepted(1, 1, "the one pixel keeps its colour", _is_colour((12, 34, 56))))
def write_one_pixel(folder: Path) -> Path:
    return _save(Image.new("RGB", (1, 1), (12, 34, 56)), folder / "dot.png", "PNG")


@case("wide_20000x8", Accepted(8, 20000, "a long thin strip keeps its colour", _is_colour((200, 100, 0))))
def write_wide(folder: Path) -> Path:
    return _save(Image.new("RGB", (20000, 8), (200, 100, 0)), folder / "wide.png", "PNG")


@case("tall_8x20000", Accepted(20000, 8, "a tall thin strip keeps its colour", _is_colour((0, 100, 200))))
def write_tall(folder: Path) -> Path:
    return _save(Image.new("RGB", (8, 20000), (0, 100, 200)), folder / "tall.png", "PNG")


@case("gif_1000_frames", Accepted(8, 8, "an animation gives its first frame (red), quickly", _is_colour(RED)))
def write_gif_1000_frames(folder: Path) -> Path:
    frames = [Image.new("RGB", (8, 8), RED if index % 2 == 0 else BLUE) for index in range(1000)]
    return _save(frames[0], folder / "animation.gif", "GIF", save_all=True, append_images=frames[1:], duration=20)


@case("webp_animated", Accepted(8, 8, "an animated WebP gives its first frame (green)", _is_colour(GREEN)))
def write_webp_animated(folder: Path) -> Path:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (GREEN, RED, BLUE)]
    return _save(frames[0], folder / "animation.webp", "WEBP", save_all=True, append_images=frames[1:], lossless=True)


@case("webp_lossy", Accepted(32, 32, "lossy WebP keeps its four colours", _quadrants_close))
def write_webp_lossy(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS), folder / "photo.webp", "WEBP", quality=90)


def _ramp_is_scaled(pixels: np.ndarray) -> bool:
    """A 0-65535 ramp across 256 columns must come back as 0-255 grey, not clipped to white."""
    expected = np.arange(256)
    grey = pixels[0, :, 0].astype(int)
    return bool((pixels == pixels[:, :, :1]).all() and np.abs(grey - expected).max() <= 1)


RAMP_16 = np.tile((np.arange(256) * 257).astype(np.uint16), (4, 1))  # 0, 257, ..., 65535


@case("png_16_bit_grey", Accepted(4, 256, "16-bit grey is scaled to 0-255, not clipped to white", _ramp_is_scaled))
def write_png_16(folder: Path) -> Path:
    return _save(Image.fromarray(RAMP_16), folder / "depth16.png", "PNG")


@case("tiff_16_bit_grey", Accepted(4, 256, "16-bit grey TIFF is scaled to 0-255, not clipped to white", _ramp_is_scaled))
def write_tiff_16(folder: Path) -> Path:
    return _save(Image.fromarray(RAMP_16), folder / "depth16.tiff", "TIFF")


@case("png_48_bit_rgb", Accepted(32, 32, "16-bit-per-channel RGB keeps its four colours", lambda p: _quadrants_close(p, tolerance=1)))
def write_png_48(folder: Path) -> Path:
    rows = (QUADRANTS.astype(">u2") * 257).reshape(32, -1).tobytes()
    stride = 32 * 6
    raw = b"".join(b"\x00" + rows[row * stride : (row + 1) * stride] for row in range(32))
    path = folder / "depth48.png"
    path.write_bytes(png_file(32, 32, 16, 2, zlib.compress(raw)))
    return path


@case("float_tiff_with_nan_and_infinity", Accepted(1, 4, "non-finite values do not break scaling", lambda p: list(p[0, :, 0]) == [0, 0, 255, 0]))
def write_float_nan(folder: Path) -> Path:
    values = np.array([[np.nan, 0.0, 1.0, -np.inf]], dtype=np.float32)
    return _save(Image.fromarray(values, "F"), folder / "nan.tiff", "TIFF")


@case("cmyk_jpeg", Accepted(32, 32, "CMYK becomes RGB colours close to the original", _quadrants_close))
def write_cmyk_jpeg(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS).convert("CMYK"), folder / "print.jpg", "JPEG", quality=95)


@case("cmyk_tiff", Accepted(32, 32, "CMYK TIFF becomes RGB colours close to the original", lambda p: _quadrants_close(p, tolerance=1)))
def write_cmyk_tiff(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS).convert("CMYK"), folder / "print.tiff", "TIFF")


def _left_white_right_red(pixels: np.ndarray) -> bool:
    return bool((pixels[:, :4] == WHITE).all() and (pixels[:, 4:] == RED).all())


@case("palette_png_with_transparency", Accepted(4, 8, "the transparent palette entry is white", _left_white_right_red))
def write_palette_transparency(folder: Path) -> Path:
    image = Image.new("P", (8, 4), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * (254 * 3))
    image.paste(1, (4, 0, 8, 4))
    return _save(image, folder / "palette.png", "PNG", transparency=0)


@case("la_grey_with_alpha", Accepted(4, 8, "the transparent half is white, the opaque half keeps its grey",
                                       lambda p: bool((p[:, :4] == WHITE).all() and (p[:, 4:] == 60).all())))
def write_la(folder: Path) -> Path:
    la = np.zeros((4, 8, 2), dtype=np.uint8)
    la[:, 4:] = (60, 255)
    return _save(Image.fromarray(la, "LA"), folder / "grey_alpha.png", "PNG")


@case("rgba_transparent_half", Accepted(4, 8, "the transparent half is white, the opaque half keeps its red", _left_white_right_red))
def write_rgba(folder: Path) -> Path:
    rgba = np.zeros((4, 8, 4), dtype=np.uint8)
    rgba[:, :4] = (0, 0, 0, 0)
    rgba[:, 4:] = (*RED, 255)
    return _save(Image.fromarray(rgba, "RGBA"), folder / "cutout.png", "PNG")


@case("rgba_at_the_pixel_cap", Accepted(6300, 6300, "a fully transparent image at the pixel cap is white", _is_colour(WHITE)))
def write_rgba_at_cap(folder: Path) -> Path:
    side = 6300  # 39.7 million pixels, just under MAX_PIXELS; 160 MB of RGBA from a 150 kB file
    path = folder / "transparent_at_cap.png"
    path.write_bytes(png_file(side, side, 8, 6, zlib_of_zeros(side * (side * 4 + 1))))
    return path


# EXIF orientation: the stored image is 48 wide x 24 high with a red block in its top-left corner.
# Where that block must be displayed, for each orientation (5-8 also turn landscape into portrait).
_STORED_CORNER_AFTER = {
    2: ("top", "right"), 3: ("bottom", "right"), 4: ("bottom", "left"),
    5: ("top", "left"), 6: ("top", "right"), 7: ("bottom", "right"), 8: ("bottom", "left"),
    9: ("top", "left"),  # not a valid orientation: shown as stored
}


def _red_block_at(vertical: str, horizontal: str) -> Callable[[np.ndarray], bool]:
    def check(pixels: np.ndarray) -> bool:
        corners = {}
        for v, rows in (("top", slice(1, 7)), ("bottom", slice(-7, -1))):
            for h, cols in (("left", slice(1, 7)), ("right", slice(-7, -1))):
                red, green, blue = pixels[rows, cols].reshape(-1, 3).mean(axis=0)
                corners[v, h] = red > 150 and green < 90 and blue < 90
        return corners == {corner: corner == (vertical, horizontal) for corner in corners}

    return check


def _exif_jpeg_writer(orientation: int) -> Writer:
    def write(folder: Path) -> Path:
        stored = np.zeros((24, 48, 3), dtype=np.uint8)
        stored[:8, :8] = RED
        exif = Image.Exif()
        exif[0x0112] = orientation
        return _save(Image.fromarray(stored), folder / f"orientation_{orientation}.jpg", "JPEG", quality=95, exif=exif.tobytes())

    return write


for _orientation, _corner in _STORED_CORNER_AFTER.items():
    _portrait = _orientation in (5, 6, 7, 8)
    case(
        f"jpeg_exif_orientation_{_orientation}",
        Accepted(48 if _portrait else 24, 24 if _portrait else 48,
                 f"EXIF orientation {_orientation}: {'portrait' if _portrait else 'landscape'}, red block {' '.join(_corner)}",
                 _red_block_at(*_corner)),
    )(_exif_jpeg_writer(_orientation))


@case("jpeg_exif_ifd_loop", Accepted(48, 24, "an EXIF block whose directory points to itself still rotates to portrait", _red_block_at("top", "right")))
def write_exif_loop(folder: Path) -> Path:
    # IFD0 holds Orientation 6 and names itself as the next directory.
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack("<I", 8)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd
    stored = np.zeros((24, 48, 3), dtype=np.uint8)
    stored[:8, :8] = RED
    return _save(Image.fromarray(stored), folder / "exif_loop.jpg", "JPEG", quality=95, exif=exif)


@case("jpeg_huge_exif", Accepted(32, 32, "a 60 kB EXIF comment does not get in the way", _quadrants_close))
def write_huge_exif(folder: Path) -> Path:
    exif = Image.Exif()
    exif[0x9286] = b"ASCII\x00\x00\x00" + b"x" * 60_000  # UserComment
    exif[0x0112] = 1
    return _save(Image.fromarray(QUADRANTS), folder / "huge_exif.jpg", "JPEG", quality=95, exif=exif.tobytes())


@case("jpeg_huge_icc_profile", Accepted(32, 32, "a 4 MB junk ICC profile in 64 segments is ignored", _quadrants_close))
def write_huge_icc(folder: Path) -> Path:
    junk = np.random.default_rng(2).integers(0, 256, 4 * 2**20, dtype=np.uint8).tobytes()
    return _save(Image.fromarray(QUADRANTS), folder / "huge_icc.jpg", "JPEG", quality=95, icc_profile=junk)


@case("progressive_jpeg", Accepted(32, 32, "progressive JPEG keeps its four colours", _quadrants_close))
def write_progressive(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS), folder / "progressive.jpg", "JPEG", quality=95, progressive=True)


@case("png_named_jpg", Accepted(32, 32, "the content decides the format, not the name", lambda p: np.array_equal(p, QUADRANTS)))
def write_png_named_jpg(folder: Path) -> Path:
    return _save(Image.fromarray(QUADRANTS), folder / "really_a_png.jpg", "PNG")


@case("png_with_trailing_garbage", Accepted(32, 32, "1 MB of junk after IEND is ignored", lambda p: np.array_equal(p, QUADRANTS)))
def write_trailing_garbage(folder: Path) -> Path:
    path = folder / "trailing.png"
    path.write_bytes(_encoded(Image.fromarray(QUADRANTS), "PNG") + os.urandom(2**20))
    return path


@case("polyglot_png_zip", Accepted(32, 32, "a PNG that is also a zip archive decodes as the PNG", lambda p: np.array_equal(p, QUADRANTS)))
def write_polyglot(folder: Path) -> Path:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("payload.py", "print('hello from inside a picture')\n")
    path = folder / "polyglot.png"
    path.write_bytes(_encoded(Image.fromarray(QUADRANTS), "PNG") + archive.getvalue())
    return path


@case("bmp_top_down", Accepted(32, 32, "a top-down BMP (negative height) is not upside down", lambda p: np.array_equal(p, QUADRANTS)))
def write_bmp_top_down(folder: Path) -> Path:
    data = bytearray(_encoded(Image.fromarray(QUADRANTS), "BMP"))  # stored bottom row first
    offset = struct.unpack("<I", data[10:14])[0]
    height, width = QUADRANTS.shape[:2]
    rows = QUADRANTS[:, :, ::-1].reshape(height, width * 3)  # BGR, rows top first; 96 bytes needs no padding
    data[22:26] = struct.pack("<i", -height)
    data[offset:] = rows.tobytes()
    path = folder / "top_down.bmp"
    path.write_bytes(bytes(data))
    return path
