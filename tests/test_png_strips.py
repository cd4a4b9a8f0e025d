"""Big PNGs decoded band by band (core/data/png_strips.py): the same pixels as Pillow's whole
decode reduced by `reduce_by`, for every mode and filter, and damaged data still refused."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from transfer_gui.core.data import formats, png_strips
from transfer_gui.core.data.pixels import reduce_by
from transfer_gui.core.data.read_errors import ImageReadError


@pytest.fixture
def small_pictures_qualify(monkeypatch):
    monkeypatch.setattr(png_strips, "MIN_PIXELS", 0)
    monkeypatch.setattr(png_strips, "_BAND_ROWS", 64)  # several bands on a small picture


def _textured(width: int = 333, height: int = 270) -> Image.Image:
    """Noise on a gradient: Pillow's encoder then picks every PNG filter somewhere."""
    rng = np.random.default_rng(1)
    ramp = np.mgrid[0:height, 0:width][1][..., None] * (200 / width)
    pixels = np.clip(ramp + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _png_bytes(img: Image.Image, **save_args) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", **save_args)
    return out.getvalue()


def _filters_used(data: bytes, row_bytes: int, height: int) -> set[int]:
    raw = zlib.decompress(b"".join(body for kind, body in _chunks(data) if kind == b"IDAT"))
    return {raw[row * (row_bytes + 1)] for row in range(height)}


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data)) for kind, data in chunks)
    return b"\x89PNG\r\n\x1a\n" + body


def _decoded(data: bytes, factor: int) -> Image.Image | None:
    file = io.BytesIO(data)
    return png_strips.decode_reduced(file, Image.open(file), factor)


def _whole_then_reduced(data: bytes, factor: int) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return reduce_by(img, factor)


def _convert(img: Image.Image, mode: str) -> Image.Image:
    if mode.startswith("P"):
        quantized = img.quantize(int(mode[1:]))
        return quantized
    return img.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "1", "P256", "P16", "P4", "P2"])
@pytest.mark.parametrize("factor", [2, 5])
def test_bands_give_exactly_the_whole_decode_reduced(small_pictures_qualify, mode, factor):
    data = _png_bytes(_convert(_textured(336), mode))  # 336 columns: no padding bits at 1-2 bits
    got = _decoded(data, factor)
    want = _whole_then_reduced(data, factor)
    assert got is not None
    assert (got.mode, got.size) == (want.mode, want.size)
    assert np.array_equal(np.asarray(got), np.asarray(want))


def _png_with_every_filter(pixels: np.ndarray) -> bytes:
    """An RGB PNG whose rows cycle through the five filters (Pillow's encoder uses only some)."""
    height, width, _ = pixels.shape
    rows = pixels.reshape(height, width * 3).astype(np.int16)
    bpp, out = 3, []
    for y in range(height):
        row = rows[y]
        up = rows[y - 1] if y else np.zeros_like(row)
        left = np.concatenate([np.zeros(bpp, np.int16), row[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int16), up[:-bpp]])
        kind = y % 5
        if kind == 0:
            predicted = np.zeros_like(row)
        elif kind == 1:
            predicted = left
        elif kind == 2:
            predicted = up
        elif kind == 3:
            predicted = (left + up) // 2
        else:  # Paeth
            base = left + up - up_left
            pa, pb, pc = abs(base - left), abs(base - up), abs(base - up_left)
            predicted = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        out.append(bytes([kind]) + ((row - predicted) % 256).astype(np.uint8).tobytes())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _png_from_chunks([(b"IHDR", header), (b"IDAT", zlib.compress(b"".join(out))),
                             (b"IEND", b"")])


def test_every_png_filter_is_undone_across_band_edges(small_pictures_qualify):
    pixels = np.asarray(_textured())
    data = _png_with_every_filter(pixels)
    assert _filters_used(data, pixels.shape[1] * 3, pixels.shape[0]) == {0, 1, 2, 3, 4}
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)  # a valid PNG
    assert np.array_equal(np.asarray(_decoded(data, 3)),
                          np.asarray(_whole_then_reduced(data, 3)))


def test_palette_transparency_is_kept(small_pictures_qualify):
    img = _textured(336).quantize(16)
    data = _png_bytes(img, transparency=3)
    got = _decoded(data, 4)
    assert got.mode == "RGBA"
    assert np.array_equal(np.asarray(got), np.asarray(_whole_then_reduced(data, 4)))


@pytest.mark.parametrize("case", ["interlaced", "16-bit", "padding bits", "small", "factor 1"])
def test_what_does_not_qualify_is_left_to_pillow(monkeypatch, case):
    if case != "small":
        monkeypatch.setattr(png_strips, "MIN_PIXELS", 0)
    img, args, factor = _textured(), {}, 3
    if case == "interlaced":
        args = {"interlace": 1}
    elif case == "16-bit":
        img = Image.fromarray((np.asarray(img.convert("L")).astype(np.uint16) * 257))
    elif case == "padding bits":
        img = img.convert("1")  # 333 columns: the last byte of each row has 3 padding bits
    elif case == "factor 1":
        factor = 1
    data = _png_bytes(img, **args)
    if case == "interlaced":
        # Pillow writes no interlaced PNGs: set the IHDR flag and re-check the CRC by hand.
        chunks = _chunks(data)
        kind, header = chunks[0]
        chunks[0] = (kind, header[:12] + b"\x01")
        data = _png_from_chunks(chunks)
    assert _decoded(data, factor) is None


def test_exif_after_the_image_data_still_turns_the_picture_upright(tmp_path,
                                                                   small_pictures_qualify):
    pixels = np.zeros((120, 300, 3), np.uint8)
    pixels[:40, :40] = 255  # a white corner, top left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    chunks = [c for c in _chunks(_png_bytes(Image.fromarray(pixels))) if c[0] != b"IEND"]
    chunks += [(b"eXIf", exif.tobytes()), (b"IEND", b"")]
    path = tmp_path / "late_exif.png"
    path.write_bytes(_png_from_chunks(chunks))
    upright = np.asarray(formats.open_image_rgb(str(path), max_side=100))
    assert upright.shape == (100, 40, 3)
    assert upright[:5, -5:].mean() > 200 and upright[:5, :5].mean() < 50  # corner now top right


@pytest.mark.parametrize("damage", ["cut short", "bad checksum", "bad zlib data"])
def test_damaged_big_png_is_refused_with_a_reason(tmp_path, small_pictures_qualify, damage):
    data = _png_bytes(_textured())
    chunks = _chunks(data)
    idat = next(i for i, c in enumerate(chunks) if c[0] == b"IDAT")
    if damage == "cut short":
        broken = data[:len(data) // 2]
    elif damage == "bad checksum":
        broken = bytearray(data)
        broken[data.index(b"IDAT") + 40] ^= 0xFF
        broken = bytes(broken)
    else:
        kind, body = chunks[idat]
        chunks[idat] = (kind, body[:2] + bytes(b ^ 0x5A for b in body[2:60]) + body[60:])
        broken = _png_from_chunks(chunks)
    path = tmp_path / "broken.png"
    path.write_bytes(broken)
    with pytest.raises(ImageReadError) as caught:
        formats.open_image_rgb(str(path), max_side=64)
    assert caught.value.reason and caught.value.path == str(path)
