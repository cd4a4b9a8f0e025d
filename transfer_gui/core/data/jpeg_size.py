"""Catch JPEG files whose header claims far more pixels than the file can hold.

libjpeg fills the part of a picture missing from the compressed data with flat grey and only
warns, so a 3 KB JPEG whose header says 13000x13000 decodes "fine" as a grey square. A
Huffman-coded JPEG spends at least one bit on every 8x8 block of its first component (the
block's DC code), so a file with fewer bits than blocks cannot be complete.
"""

from __future__ import annotations

from typing import BinaryIO, Optional

# Start-of-frame markers of Huffman-coded JPEGs (baseline, extended, progressive, lossless and
# their hierarchical forms). Arithmetic-coded frames (0xC9-0xCF) can be smaller: not checked.
_HUFFMAN_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})
_ARITHMETIC_FRAMES = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})
_START_OF_SCAN, _END_OF_IMAGE = 0xDA, 0xD9
_MAX_SEGMENTS = 10_000


def frame_marker(file: BinaryIO) -> Optional[int]:
    """The first start-of-frame marker (0xC0..0xCF) of a JPEG file, or None if not found.

    Reads segment headers only, from the start of the file; the position is left moved.
    """
    file.seek(0)
    if file.read(2) != b"\xff\xd8":
        return None
    for _ in range(_MAX_SEGMENTS):
        byte = file.read(1)
        if byte != b"\xff":
            return None
        marker = file.read(1)
        while marker == b"\xff":  # fill bytes
            marker = file.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _HUFFMAN_FRAMES or code in _ARITHMETIC_FRAMES:
            return code
        if code in (_START_OF_SCAN, _END_OF_IMAGE):
            return None
        if code in _NO_LENGTH:
            continue
        length = file.read(2)
        if len(length) < 2:
            return None
        file.seek(int.from_bytes(length, "big") - 2, 1)
    return None


def too_small_reason(file: BinaryIO, file_size: int, width: int, height: int) -> Optional[str]:
    """Why a JPEG of `file_size` bytes cannot hold `width` x `height` pixels, or None if it can.

    The file position is restored.
    """
    blocks = -(-width // 8) * -(-height // 8)
    if file_size * 8 >= blocks:
        return None
    position = file.tell()
    try:
        marker = frame_marker(file)
    finally:
        file.seek(position)
    if marker not in _HUFFMAN_FRAMES:
        return None
    return (f"damaged image data (the header says {width}x{height} pixels, but the file's "
            f"{file_size:,} bytes cannot hold that many)")
