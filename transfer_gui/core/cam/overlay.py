"""Colour a map, put it back on the original image and blend it: numpy only (no matplotlib or
OpenCV). Each colormap is a 256-entry lookup table."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..data.pixels import shorter_side_crop_geometry

COLORMAPS = ("jet", "turbo", "viridis", "inferno")
DEFAULT_COLORMAP = "jet"

# matplotlib's viridis and inferno sampled at 17 evenly spaced points (0, 1/16, ..., 1).
_VIRIDIS = ((68, 1, 84), (72, 24, 106), (71, 45, 123), (66, 64, 134), (59, 82, 139),
            (51, 99, 141), (44, 114, 142), (38, 130, 142), (33, 145, 140), (31, 160, 136),
            (40, 174, 128), (63, 188, 115), (94, 201, 98), (132, 212, 75), (173, 220, 48),
            (216, 226, 25), (253, 231, 37))
_INFERNO = ((0, 0, 4), (11, 7, 36), (33, 12, 74), (61, 9, 101), (87, 16, 110), (113, 25, 110),
            (138, 34, 106), (163, 44, 97), (188, 55, 84), (210, 70, 68), (228, 90, 49),
            (241, 115, 29), (249, 142, 9), (252, 172, 17), (249, 203, 53), (242, 234, 105),
            (252, 255, 164))
# Turbo's published polynomial approximation (Mikhailov / Du, Google AI blog 2019), per channel,
# coefficients of x^0 .. x^5.
_TURBO = ((0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943),
          (0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604),
          (0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973))


def _from_points(points: tuple) -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    knots = np.linspace(0.0, 1.0, len(points))
    rgb = np.asarray(points, dtype=np.float64) / 255.0
    return np.stack([np.interp(x, knots, rgb[:, c]) for c in range(3)], axis=1)


def _jet(x: np.ndarray) -> np.ndarray:
    return np.stack([np.clip(1.5 - np.abs(4 * x - k), 0, 1) for k in (3, 2, 1)], axis=1)


def _turbo(x: np.ndarray) -> np.ndarray:
    return np.stack([np.clip(np.polynomial.polynomial.polyval(x, c), 0, 1) for c in _TURBO], axis=1)


@lru_cache(maxsize=None)
def lookup_table(colormap: str) -> np.ndarray:
    """(256, 3) uint8 colours for values 0/255 .. 255/255; ValueError for an unknown name."""
    x = np.linspace(0.0, 1.0, 256)
    makers = {"jet": lambda: _jet(x), "turbo": lambda: _turbo(x),
              "viridis": lambda: _from_points(_VIRIDIS), "inferno": lambda: _from_points(_INFERNO)}
    if colormap not in makers:
        raise ValueError(f"Unknown colormap {colormap!r}. Choose one of: {', '.join(COLORMAPS)}.")
    table = np.rint(makers[colormap]() * 255).astype(np.uint8)
    table.setflags(write=False)
    return table


def colorize(map2d: np.ndarray, colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """(H, W) values in [0, 1] (clipped; NaN counts as 0) -> (H, W, 3) uint8 colours."""
    values = np.nan_to_num(np.asarray(map2d, dtype=np.float32), nan=0.0)
    index = np.rint(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)
    return lookup_table(colormap)[index]


def colorbar(colormap: str, height: int, width: int) -> np.ndarray:
    """A (height, width, 3) uint8 legend: vertical (1 at the top) when height >= width, else
    horizontal (0 on the left)."""
    if height >= width:
        ramp = np.linspace(1.0, 0.0, height)[:, None].repeat(width, axis=1)
    else:
        ramp = np.linspace(0.0, 1.0, width)[None, :].repeat(height, axis=0)
    return colorize(ramp, colormap)


def _axis_weights(length: int, crop_offset: int, scale: float,
                  input_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each original pixel along one axis: the two input pixels to blend, the weight of the
    second, and whether the pixel lies inside the crop."""
    centres = (np.arange(length) + 0.5) / scale - crop_offset  # continuous input coordinate
    inside = (centres >= 0) & (centres < input_size)
    pos = np.clip(centres - 0.5, 0, input_size - 1)
    low = np.floor(pos).astype(np.intp)
    high = np.minimum(low + 1, input_size - 1)
    return low, high, (pos - low).astype(np.float32), inside


def to_original(map_input: np.ndarray, original_size: tuple[int, int], preprocessing) -> np.ndarray:
    """Put a map made at the network's input back on the original image.

    Undoes `load_image_array` (shorter side resized to `resize_size`, centre square crop) and
    the evaluation's centre crop to `input_size`, with bilinear interpolation. Parts of the
    original outside the crop get 0.

    Args:
        map_input: (input_size, input_size) map.
        original_size: The original image's (width, height), EXIF orientation applied.
        preprocessing: The model's Preprocessing (input_size, resize_size).

    Returns:
        (height, width) float32 map.
    """
    width, height = original_size
    size, crop = preprocessing.resize_size, preprocessing.input_size
    m = np.asarray(map_input, dtype=np.float32)
    if m.shape != (crop, crop):
        raise ValueError(f"map_input must be {crop}x{crop}, not {m.shape}")
    new_w, new_h, left, top = shorter_side_crop_geometry(width, height, size)  # as decoding did
    offset = (size - crop) // 2  # augment.center_crop
    x0, x1, wx, in_x = _axis_weights(width, left + offset, width / new_w, crop)
    y0, y1, wy, in_y = _axis_weights(height, top + offset, height / new_h, crop)
    rows = m[y0] * (1 - wy)[:, None] + m[y1] * wy[:, None]  # (height, crop)
    out = rows[:, x0] * (1 - wx)[None, :] + rows[:, x1] * wx[None, :]
    out *= (in_y[:, None] & in_x[None, :])
    return out.astype(np.float32, copy=False)


def overlay(image: np.ndarray, map2d: np.ndarray, *, alpha: float = 0.5,
            colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """Blend the coloured map over an RGB uint8 image: (1 - alpha) * image + alpha * colour."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != np.shape(map2d):
        raise ValueError(f"image (H, W, 3) and map (H, W) sizes differ: {image.shape} and "
                         f"{np.shape(map2d)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    blended = image.astype(np.float32)  # in place from here: one float copy of the picture
    blended *= 1 - alpha
    blended += alpha * colorize(map2d, colormap).astype(np.float32)
    np.rint(blended, out=blended)
    np.clip(blended, 0, 255, out=blended)
    return blended.astype(np.uint8)
