"""Image files: which ones count, a cheap header check for the scan, and decoding to RGB.

Every failure to read or decode a file becomes an `ImageReadError` whose `reason` is a short
sentence a user can act on ("truncated image data", "not an image file", ...).
"""

from __future__ import annotations

import os
import struct
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps

from . import png_strips
from .jpeg_size import too_small_reason
from .read_errors import ImageReadError, open_regular_file
from .pixels import (
    UnsupportedModeError,
    reduce_for,
    resize_shorter_and_center_crop,
    shrink_to,
    to_rgb,
)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
)
"""Lower-case file extensions treated as images (compare with `ext.lower()`)."""

IGNORED_NAMES: frozenset[str] = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
"""File names the operating system leaves behind; ignored silently (never reported as skipped)."""

MAX_PIXELS = 178_956_970
"""Largest width*height accepted (Pillow's DecompressionBombError threshold)."""

# Pillow formats we accept. (JPEG files with a multi-picture index come back as "MPO".)
_PILLOW_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF")
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
_TAIL_BYTES = 1024
_JPEG_PADDING = b"\x00 \t\r\n"
_EXIF_ORIENTATION_TAG = 0x0112
# Exceptions Pillow's plugins raise for damaged or unusual files.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)

# Truncated images are errors, never silently padded with grey (this is Pillow's default).
ImageFile.LOAD_TRUNCATED_IMAGES = False
# We enforce MAX_PIXELS ourselves with a clear reason; Pillow's warning at half that limit
# would only print noise for images we accept.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def is_ignored_name(name: str) -> bool:
    """Return True for hidden names and OS clutter (`.DS_Store`, `Thumbs.db`, ...)."""
    return name.startswith(".") or name in IGNORED_NAMES


def _too_large_reason(width: int, height: int) -> str:
    return (
        f"image too large ({width}x{height} pixels; "
        f"limit {MAX_PIXELS // 1_000_000} megapixels)"
    )


def _bomb_reason(error: Exception) -> str:
    # Pillow's message names the pixel count but not the size.
    digits = [int(word.strip("(")) for word in str(error).split() if word.strip("(").isdigit()]
    count = f"{digits[0] / 1e6:.0f} megapixels; " if digits else ""
    return f"image too large ({count}limit {MAX_PIXELS // 1_000_000} megapixels)"


def _os_error_reason(error: OSError) -> str:
    text = (error.strerror or str(error) or "unknown error").lower()
    return f"cannot read file: {text}"


def _decode_error_reason(error: BaseException) -> str:
    if isinstance(error, Image.DecompressionBombError):
        return _bomb_reason(error)
    if isinstance(error, MemoryError):
        return "not enough memory to decode this image"
    if isinstance(error, OSError) and error.errno is not None:
        return _os_error_reason(error)
    text = str(error).strip()
    if "truncated" in text.lower():
        return "truncated image data"
    if isinstance(error, Image.UnidentifiedImageError):
        return "not an image file"
    text = text.splitlines()[0][:80] if text else type(error).__name__
    return f"damaged image data ({text})"


def _unidentified_reason(file: BinaryIO) -> str:
    """Tell a damaged image (known signature, unreadable header) from a non-image file."""
    file.seek(0)
    head = file.read(12)
    if head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "damaged or truncated image header"
    return "not an image file"


def _open_checked(file: BinaryIO) -> ImageFile.ImageFile:
    """Open an image header (no pixel decoding) and enforce the size limits."""
    file_size = os.fstat(file.fileno()).st_size
    if file_size == 0:
        raise ImageReadError("empty file (0 bytes)")
    try:
        img = Image.open(file, formats=_PILLOW_FORMATS)
    except Image.UnidentifiedImageError:
        raise ImageReadError(_unidentified_reason(file)) from None
    except Image.DecompressionBombError as error:
        raise ImageReadError(_bomb_reason(error)) from None
    except _DECODE_ERRORS as error:
        raise ImageReadError(_decode_error_reason(error)) from None
    width, height = img.size
    if width * height > MAX_PIXELS:
        img.close()
        raise ImageReadError(_too_large_reason(width, height))
    if width <= 0 or height <= 0:
        img.close()
        raise ImageReadError("image has no pixels (0 width or height)")
    if img.format in _JPEG_FORMATS:
        reason = too_small_reason(file, file_size, width, height)
        if reason is not None:
            img.close()
            raise ImageReadError(reason)
    return img


def _tail_looks_complete(file: BinaryIO, file_size: int, image_format: str | None) -> bool:
    """Cheap truncation check reading only the file's last bytes (JPEG and PNG)."""
    if image_format not in _JPEG_FORMATS and image_format != "PNG":
        return True
    file.seek(max(0, file_size - _TAIL_BYTES))
    tail = file.read(_TAIL_BYTES)
    if image_format == "PNG":
        return b"IEND" in tail
    return tail.rstrip(_JPEG_PADDING).endswith(b"\xff\xd9") or b"\xff\xd9" in tail


def _decodes_fully(path: str) -> None:
    """Decode the whole image; raises ImageReadError when that fails."""
    _decode_oriented(path, draft_size=None)


def probe_image(path: str) -> tuple[int, int]:
    """Check that a file looks like a complete, readable image, cheaply (no full decode).

    Reads the header and, for JPEG and PNG, the last kilobyte (a JPEG must end with its
    EOI marker, a PNG must contain its IEND chunk). A file that fails the tail check but
    still decodes completely (e.g. a JPEG with extra data appended) is accepted.

    Args:
        path: The file to check.

    Returns:
        The image's (width, height).

    Raises:
        ImageReadError: With a short reason when the file is empty, unreadable, not an
            image, too large, or truncated.
    """
    try:
        with open_regular_file(path) as file:
            with _open_checked(file) as img:
                size = img.size
                image_format = img.format
            file_size = os.fstat(file.fileno()).st_size
            complete = _tail_looks_complete(file, file_size, image_format)
    except ImageReadError as error:
        error.path = path
        raise
    except OSError as error:
        raise ImageReadError(_os_error_reason(error), path) from None
    if not complete:
        try:
            _decodes_fully(path)
        except ImageReadError as error:
            reason = error.reason if "truncated" in error.reason else "truncated image data"
            raise ImageReadError(reason, path) from None
    return size


def _apply_exif_orientation(img: Image.Image) -> Image.Image:
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        return img  # unreadable EXIF: keep the pixels as stored
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        return ImageOps.exif_transpose(img)
    return img


def _decoded_png_reduced(file: BinaryIO, img: ImageFile.ImageFile, draft_size: int | None,
                         max_side: int | None) -> Image.Image | None:
    """A big PNG decoded band by band at the whole-factor reduction the caller would apply
    next (see png_strips), or None to decode it whole."""
    if img.format != "PNG" or (draft_size is None and max_side is None):
        return None
    if max_side is not None:
        factor = max(img.size) // max_side  # as shrink_to
    else:
        factor = min(img.size) // (3 * draft_size)  # as reduce_for
    return png_strips.decode_reduced(file, img, factor)


def _draft_within(img: ImageFile.ImageFile, max_side: int) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale while its longer side stays >= `max_side`."""
    width, height = img.size
    scale = max_side / max(width, height)
    if scale < 1 and img.format in _JPEG_FORMATS:
        img.draft(img.mode, (max(1, round(width * scale)), max(1, round(height * scale))))


def _decode_oriented(path: str, draft_size: int | None,
                     max_side: int | None = None) -> Image.Image:
    """Decode the first frame of `path` to an upright RGB image.

    Args:
        path: The image file.
        draft_size: For JPEG, let the decoder scale down by 1/2, 1/4 or 1/8 as long as both
            sides stay at least this many pixels; other formats are reduced by a whole factor
            in their own mode, keeping 3x this size (`reduce_for`). None: full size.
        max_side: Shrink the image so its longer side is at most this many pixels.
    """
    try:
        # We own the file object, so the decoded image stays usable after it is closed.
        with open_regular_file(path) as file:
            img = _open_checked(file)
            if draft_size is not None and img.format in _JPEG_FORMATS:
                img.draft("RGB", (draft_size, draft_size))
            if max_side is not None:
                _draft_within(img, max_side)
            reduced = _decoded_png_reduced(file, img, draft_size, max_side)
            if reduced is None:
                img.load()
            # (a reduced PNG carries the file's EXIF: PNG's getexif would decode it whole)
            upright = _apply_exif_orientation(img if reduced is None else reduced)
            # Shrink in the image's own mode, before any full-size RGB copy.
            if max_side is not None:
                upright = shrink_to(upright, max_side)
            elif draft_size is not None and img.format not in _JPEG_FORMATS:
                upright = reduce_for(upright, draft_size)
        return to_rgb(upright)
    except ImageReadError as error:
        error.path = path
        raise
    except UnsupportedModeError as error:
        raise ImageReadError(str(error), path) from None
    except (*_DECODE_ERRORS, MemoryError, Image.DecompressionBombError) as error:
        raise ImageReadError(_decode_error_reason(error), path) from None


def open_image_rgb(path: str, max_side: int | None = None) -> Image.Image:
    """Fully decode an image file as an upright RGB image.

    With `max_side`, the image comes back shrunk so its longer side is at most that many
    pixels, decoded at reduced scale where the format allows (JPEG), so a 13000x13000 picture
    never needs gigabytes.

    Takes the first frame of animated or multi-page files, applies the EXIF orientation and
    converts every colour mode to RGB (see `to_rgb`).

    Raises:
        ImageReadError: When the file cannot be read or decoded (the reason says why).
    """
    return _decode_oriented(path, draft_size=None, max_side=max_side)


def load_image_array(path: str, size: int) -> np.ndarray:
    """Decode an image for training: an upright RGB square of `size` x `size` pixels.

    JPEGs are decoded at reduced scale (Pillow draft mode) when they are much larger than
    `size`, which makes big photos several times faster to load.

    Args:
        path: The image file.
        size: Side of the output square in pixels.

    Returns:
        A C-contiguous uint8 array of shape (size, size, 3).

    Raises:
        ImageReadError: When the file cannot be read or decoded.
    """
    rgb = _decode_oriented(path, draft_size=size)
    square = resize_shorter_and_center_crop(rgb, size)
    return np.ascontiguousarray(np.array(square, dtype=np.uint8))
