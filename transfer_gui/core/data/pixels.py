"""Pixel-level helpers: any Pillow colour mode to RGB, and the resize + centre crop."""

from __future__ import annotations

import numpy as np
from PIL import Image


_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


class UnsupportedModeError(ValueError):
    """Pillow cannot convert this colour mode to RGB."""


def _stretch_to_uint8(img: Image.Image) -> Image.Image:
    """Map a 16/32-bit integer or float image to 8-bit grey, per-image min..max to 0..255."""
    values = np.asarray(img).astype(np.float32)
    finite = np.isfinite(values)
    if not finite.any():
        return Image.new("L", img.size, 0)
    low = float(values[finite].min())
    high = float(values[finite].max())
    if high <= low:
        return Image.new("L", img.size, 0)
    scaled = (np.where(finite, values, low) - low) * (255.0 / (high - low))
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def _composite_on_white(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB.

    Transparent pixels are composited over white; 16/32-bit and float images are stretched
    from their own minimum..maximum to 0..255 (a constant image becomes black).

    Raises:
        UnsupportedModeError: For a colour mode Pillow cannot convert.
    """
    mode = img.mode
    try:
        if mode == "RGB" and not img.has_transparency_data:
            return img
        if mode.startswith("I") or mode == "F":
            return _stretch_to_uint8(img).convert("RGB")
        if mode in _ALPHA_MODES or img.has_transparency_data:
            return _composite_on_white(img)
        return img.convert("RGB")
    except ValueError:
        raise UnsupportedModeError(f"unsupported colour mode ({mode})") from None


def shorter_side_crop_geometry(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """(resized width, resized height, left, top): the shorter side resized to `size`, and the
    top-left corner of the central `size` x `size` square in the resized image."""
    if width <= height:
        new_width, new_height = size, int(size * height / width)
    else:
        new_width, new_height = int(size * width / height), size
    return (new_width, new_height, int(round((new_width - size) / 2.0)),
            int(round((new_height - size) / 2.0)))


def resize_shorter_and_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to `size` and cut the central `size` x `size` square.

    Matches torchvision's Resize(size) + CenterCrop(size) geometry, done as one resampling
    of only the cropped region (antialiased bilinear).
    """
    width, height = img.size
    if (width, height) == (size, size):
        return img
    new_width, new_height, left, top = shorter_side_crop_geometry(width, height, size)
    scale_x, scale_y = width / new_width, height / new_height
    box = (left * scale_x, top * scale_y, (left + size) * scale_x, (top + size) * scale_y)
    return img.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=3.0)


# Modes Image.reduce averages correctly (LA and RGBA are premultiplied by Pillow itself).
REDUCIBLE_MODES = frozenset({"L", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "I", "F"})
_STRIP_ROWS = 1024


def pointwise_mode(img: Image.Image) -> str:
    """A reducible mode this image converts to pixel by pixel (no per-image statistics)."""
    if img.mode.startswith("I;16"):
        return "I"
    if img.mode in ("P", "PA", "1"):
        return "RGBA" if img.has_transparency_data else "RGB"
    return "RGB"


def reduce_by(img: Image.Image, factor: int) -> Image.Image:
    """`img` shrunk `factor` times by box averaging, in its own mode where Pillow can reduce
    it; modes it cannot (palette, 1-bit, 16-bit) are converted and reduced in strips of rows,
    so a 13000x13000 palette PNG never needs a full-size RGB copy (676 MB)."""
    if factor < 2:
        return img
    if img.mode in REDUCIBLE_MODES:
        return img.reduce(factor)
    mode = pointwise_mode(img)
    width, height = img.size
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    band = factor * max(1, _STRIP_ROWS // factor)
    for top in range(0, height, band):
        strip = img.crop((0, top, width, min(height, top + band))).convert(mode)
        out.paste(strip.reduce(factor), (0, top // factor))
    return out


def reduce_for(img: Image.Image, size: int) -> Image.Image:
    """Shrink a much larger image by a whole factor, keeping at least 3x `size` pixels on its
    shorter side (what Pillow's resize does first with reducing_gap=3)."""
    return reduce_by(img, min(img.size) // (3 * size))


def shrink_to(img: Image.Image, max_side: int) -> Image.Image:
    """`img` with its longer side at most `max_side` pixels (box-reduced, then bilinear)."""
    img = reduce_by(img, max(img.size) // max_side)
    if max(img.size) <= max_side:
        return img
    if img.mode not in REDUCIBLE_MODES:  # Pillow resizes palette and 1-bit images by nearest pixel
        img = img.convert(pointwise_mode(img))
    scale = max_side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BILINEAR)
