"""Decode a big PNG a band of rows at a time, box-reducing each band as it comes.

Pillow decodes a PNG whole: a 13000x13000 RGB picture takes 676 MB before it can be shrunk,
where a JPEG can be decoded at 1/8 scale. Here the zlib stream is inflated band by band and each
band goes through Pillow's own PNG decoder (unfiltering and unpacking), behind the previous
band's last row stored unfiltered: the only row a band's first filter may refer to. So the
pixels are exactly Pillow's, reduced exactly as `pixels.reduce_by` would, in ~1/50 the memory.

Non-interlaced PNGs of up to 8 bits a sample qualify; for anything else `decode_reduced`
returns None and the caller decodes the whole picture as before.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO, Iterator

from PIL import Image

from .pixels import REDUCIBLE_MODES, pointwise_mode

MIN_PIXELS = 16_000_000
"""Pictures smaller than this are decoded whole (at most 64 MB in RGBA: not worth a band loop)."""

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples a pixel
_BAND_ROWS = 256
_PIECE = 1 << 20  # inflate at most this many bytes at a time (no zlib bomb)


def _chunks(file: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk after the signature, checksums checked, up to IEND."""
    file.seek(len(_SIGNATURE))
    while True:
        head = file.read(8)
        if len(head) < 8:
            raise OSError("truncated PNG file (no IEND chunk)")
        length, kind = struct.unpack(">I4s", head)
        data, crc = file.read(length), file.read(4)
        if len(data) < length or len(crc) < 4:
            raise OSError("truncated PNG file")
        if zlib.crc32(kind + data) != struct.unpack(">I", crc)[0]:
            raise SyntaxError(f"broken PNG file (bad checksum in {kind!r} chunk)")
        yield kind, data
        if kind == b"IEND":
            return


def _inflated(file: BinaryIO, found: dict[bytes, bytes]) -> Iterator[bytes]:
    """The image data (the IDAT chunks) inflated piece by piece; eXIf put into `found`."""
    inflater = zlib.decompressobj()
    for kind, data in _chunks(file):
        if kind == b"eXIf":
            found[kind] = data
        if kind != b"IDAT":
            continue
        while data and not inflater.eof:
            try:
                piece = inflater.decompress(data, _PIECE)
            except zlib.error as error:
                raise SyntaxError(f"broken PNG image data ({error})") from None
            data = inflater.unconsumed_tail
            yield piece


def _bands(file: BinaryIO, row_bytes: int, height: int, band_rows: int,
           found: dict[bytes, bytes]) -> Iterator[bytes]:
    """Filtered rows (each its filter byte + `row_bytes`), `band_rows` at a time; the chunks
    after the image data are read too (an eXIf chunk may follow it)."""
    stride = 1 + row_bytes
    pending = bytearray()
    rows_left = height
    pieces = _inflated(file, found)
    for piece in pieces:
        pending += piece
        while rows_left and len(pending) >= min(band_rows, rows_left) * stride:
            take = min(band_rows, rows_left) * stride
            yield bytes(pending[:take])
            del pending[:take]
            rows_left -= take // stride
        if not rows_left:
            for _ in pieces:  # nothing more is inflated once the data stream has ended
                pass
            return
    raise OSError("truncated image data")


def _header(file: BinaryIO) -> tuple[int, int, int, int, int] | None:
    """(width, height, bit depth, colour type, interlace) from IHDR; None if not a PNG."""
    file.seek(0)
    head = file.read(len(_SIGNATURE) + 8 + 13)
    if len(head) < 29 or not head.startswith(_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return width, height, depth, colour, interlace


def _rawmode(img: Image.Image) -> str | None:
    """The rawmode Pillow decodes this PNG's rows with, if it can also pack rows back to it."""
    if len(img.tile) != 1 or img.tile[0][0] != "zip":
        return None
    args = img.tile[0][3]
    rawmode = args if isinstance(args, str) else args[0]
    try:
        Image.new(img.mode, (1, 1)).tobytes("raw", rawmode)
    except (ValueError, OSError):
        return None
    return rawmode


def decode_reduced(file: BinaryIO, img: Image.Image, factor: int) -> Image.Image | None:
    """`img` (opened from `file`, not loaded) decoded and box-reduced `factor` times, band by
    band; None when this PNG does not qualify (see the module docstring) or is small.

    Raises what Pillow's decoder raises for damaged data (OSError, SyntaxError, ValueError)."""
    header = _header(file)
    if factor < 2 or header is None or img.width * img.height < MIN_PIXELS:
        return None
    width, height, depth, colour, interlace = header
    bits = depth * _CHANNELS.get(colour, 0)
    rawmode = _rawmode(img)
    # Rows whose last byte has padding bits are left to Pillow: a filter adds whole bytes, so
    # padding we could not restore exactly might carry into the next row's pixels.
    if interlace or depth > 8 or not bits or (width * bits) % 8 or rawmode is None:
        return None
    row_bytes = width * bits // 8
    out_mode = img.mode if img.mode in REDUCIBLE_MODES else pointwise_mode(img)
    out = Image.new(out_mode, (-(-width // factor), -(-height // factor)))
    band_rows = factor * max(1, _BAND_ROWS // factor)
    previous = bytes(row_bytes)  # a first row's filter sees zeros above it
    top = 0
    found: dict[bytes, bytes] = {}
    for band in _bands(file, row_bytes, height, band_rows, found):
        rows = len(band) // (1 + row_bytes)
        packed = zlib.compress(b"\x00" + previous + band, 0)
        decoded = Image.frombytes(img.mode, (width, rows + 1), packed, "zip", rawmode)
        previous = decoded.crop((0, rows, width, rows + 1)).tobytes("raw", rawmode)
        pixels = decoded.crop((0, 1, width, rows + 1))
        if img.mode == "P":
            pixels.putpalette(img.palette.palette, img.palette.mode)
        if "transparency" in img.info:
            pixels.info["transparency"] = img.info["transparency"]
        if pixels.mode != out_mode:
            pixels = pixels.convert(out_mode)
        out.paste(pixels.reduce(factor), (0, top // factor))
        top += rows
    if out_mode == img.mode and "transparency" in img.info:
        out.info["transparency"] = img.info["transparency"]
    exif = found.get(b"eXIf") or img.info.get("exif")
    if exif:
        out.info["exif"] = exif
    return out
