"""Tests for transfer_gui.core.data.formats: probing, decoding to RGB, training arrays."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from transfer_gui.core.data import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    ImageReadError,
    load_image_array,
    open_image_rgb,
    probe_image,
)
from transfer_gui.core.data.pixels import to_rgb

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def solid(path: Path, color=RED, size=(24, 16), **save_args) -> Path:
    Image.new("RGB", size, color).save(path, **save_args)
    return path


def gradient(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack(
        [xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)], axis=-1
    ).astype(np.uint8)


def png_with_header_size(path: Path, width: int, height: int) -> Path:
    """A tiny valid PNG whose IHDR claims another size (CRC recomputed)."""
    Image.new("RGB", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def close_to(pixel, expected, tolerance=6) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, expected))


def test_extensions_are_lower_case_and_complete():
    assert IMAGE_EXTENSIONS == {
        ".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"
    }


@pytest.mark.parametrize(
    "name, save_args",
    [
        ("a.jpg", {"quality": 95}),
        ("a.JPEG", {"format": "JPEG", "quality": 95}),
        ("a.jpe", {"format": "JPEG", "quality": 95}),
        ("a.png", {}),
        ("A.PNG", {}),
        ("a.bmp", {}),
        ("a.gif", {}),
        ("a.webp", {"lossless": True}),
        ("a.tif", {}),
        ("a.TIFF", {}),
    ],
)
def test_every_format_probes_and_decodes(tmp_path, name, save_args):
    path = solid(tmp_path / name, GREEN, **save_args)
    assert probe_image(str(path)) == (24, 16)
    img = open_image_rgb(str(path))
    assert img.mode == "RGB" and img.size == (24, 16)
    assert close_to(img.getpixel((5, 5)), GREEN)


def test_gif_and_webp_and_tiff_use_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)]
    for name, extra in [("anim.gif", {}), ("anim.webp", {"lossless": True}), ("pages.tif", {})]:
        path = tmp_path / name
        frames[0].save(path, save_all=True, append_images=frames[1:], **extra)
        with Image.open(path) as check:
            assert getattr(check, "n_frames", 1) == 2
        assert close_to(open_image_rgb(str(path)).getpixel((8, 8)), RED), name
        assert close_to(load_image_array(str(path), 8)[4, 4], RED), name


def test_modes_are_converted_to_rgb(tmp_path):
    cases = {
        "l.png": Image.new("L", (8, 8), 100),
        "one.png": Image.new("1", (8, 8), 1),
        "p.png": Image.new("RGB", (8, 8), BLUE).convert("P"),
        "cmyk.jpg": Image.new("CMYK", (8, 8), (0, 255, 255, 0)),
        "cmyk.tif": Image.new("CMYK", (8, 8), (0, 255, 255, 0)),
    }
    expected = {"l.png": (100,) * 3, "one.png": WHITE, "p.png": BLUE,
                "cmyk.jpg": RED, "cmyk.tif": RED}
    for name, img in cases.items():
        img.save(tmp_path / name)
        rgb = open_image_rgb(str(tmp_path / name))
        assert rgb.mode == "RGB", name
        assert close_to(rgb.getpixel((3, 3)), expected[name], tolerance=10), name


def test_ycbcr_and_big_endian_16_bit_convert():
    ycbcr = Image.new("RGB", (4, 4), RED).convert("YCbCr")
    assert close_to(to_rgb(ycbcr).getpixel((0, 0)), RED)
    values = (np.arange(16).reshape(4, 4) * 100).astype(">u2")
    big_endian = Image.frombytes("I;16B", (4, 4), values.tobytes())
    out = np.asarray(to_rgb(big_endian))
    assert out[0, 0, 0] == 0 and out[3, 3, 0] == 255


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_alpha_is_composited_over_white(tmp_path, mode):
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 0, 128))
    rgba.convert(mode).save(tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as check:
        assert check.mode == mode
    rgb = open_image_rgb(str(tmp_path / "a.png"))
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == WHITE
    assert close_to(rgb.getpixel((1, 0)), (127, 127, 127), tolerance=2)


def test_palette_with_alpha_band_is_composited_over_white():
    img = Image.new("PA", (8, 8))
    img.putpalette([255, 0, 0, 0, 0, 0] + [0] * 762)
    img.putdata([(0, 255)] * 64)
    img.putpixel((0, 0), (1, 0))
    rgb = to_rgb(img)
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == WHITE and rgb.getpixel((3, 3)) == RED


def test_palette_with_transparency_index(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.putpixel((0, 0), 1)
    img.save(tmp_path / "t.png", transparency=1)
    img.save(tmp_path / "t.gif", transparency=1)
    for name in ("t.png", "t.gif"):
        rgb = open_image_rgb(str(tmp_path / name))
        assert rgb.getpixel((0, 0)) == WHITE, name
        assert rgb.getpixel((4, 4)) == RED, name


def test_16_bit_png_is_stretched_to_full_range(tmp_path):
    values = np.linspace(0, 4095, 64 * 8).astype(np.uint16).reshape(8, 64)
    Image.fromarray(values).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as check:
        assert check.mode.startswith("I")
    out = np.asarray(open_image_rgb(str(tmp_path / "deep.png")))
    assert out.dtype == np.uint8 and out.shape == (8, 64, 3)
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out[0, :, 0].astype(int)) >= 0)
    assert (out[..., 0] == out[..., 1]).all()


@pytest.mark.parametrize("mode, dtype", [("I", np.int32), ("F", np.float32)])
def test_32_bit_and_float_tiff_are_stretched(tmp_path, mode, dtype):
    values = (np.arange(64, dtype=np.float64).reshape(8, 8) * 1000 - 5000).astype(dtype)
    img = Image.fromarray(values)
    assert img.mode == mode
    img.save(tmp_path / "deep.tif")
    out = np.asarray(open_image_rgb(str(tmp_path / "deep.tif")))
    assert out[0, 0].tolist() == [0, 0, 0] and out[7, 7].tolist() == [255, 255, 255]


def test_constant_deep_image_becomes_black(tmp_path):
    Image.fromarray(np.full((8, 8), 700, dtype=np.uint16)).save(tmp_path / "flat.png")
    assert np.asarray(open_image_rgb(str(tmp_path / "flat.png"))).max() == 0


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (80, 40), RED)
    img.paste(BLUE, (40, 0, 80, 40))  # stored: left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    upright = open_image_rgb(str(path))
    assert upright.size == (40, 80)
    assert close_to(upright.getpixel((20, 5)), RED, 20)
    assert close_to(upright.getpixel((20, 75)), BLUE, 20)
    square = load_image_array(str(path), 20)  # centre crop of the upright image
    assert close_to(square[2, 10], RED, 20) and close_to(square[17, 10], BLUE, 20)


def test_load_image_array_shape_and_centre_crop(tmp_path):
    img = Image.new("RGB", (90, 30), RED)
    img.paste(GREEN, (30, 0, 60, 30))  # the centre third
    img.save(tmp_path / "wide.png")
    out = load_image_array(str(tmp_path / "wide.png"), 16)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert close_to(out[8, 8], GREEN, 2)


def test_jpeg_draft_decode_matches_full_decode(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    Image.fromarray(gradient(1600, 1200)).save(path, quality=92)
    calls = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        calls.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    fast = load_image_array(str(path), 224)
    assert calls and calls[0][1] == (400, 300)  # decoded at 1/4 scale, shorter side >= 224
    full = open_image_rgb(str(path))
    # torchvision Resize(224) + CenterCrop(224) on 1600x1200: 298x224, then cut x = 37..261
    full = full.resize((298, 224), Image.Resampling.BILINEAR).crop((37, 0, 261, 224))
    diff = np.abs(fast.astype(int) - np.asarray(full).astype(int))
    assert diff.mean() < 8


def test_damaged_files_raise_image_read_error(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray(gradient(120, 90)).save(good, quality=90)
    data = good.read_bytes()
    (tmp_path / "half.jpg").write_bytes(data[: len(data) // 2])
    Image.fromarray(gradient(120, 90)).save(tmp_path / "good.png")
    png = (tmp_path / "good.png").read_bytes()
    (tmp_path / "half.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not really a photo\n" * 20)
    (tmp_path / "folder.jpg").mkdir()
    expected = {
        "half.jpg": "truncated",
        "half.png": "truncated",
        "empty.jpg": "empty file (0 bytes)",
        "text.jpg": "not an image file",
        "folder.jpg": "not a regular file: a folder",
        "missing.jpg": "cannot read file",
    }
    for name, reason in expected.items():
        with pytest.raises(ImageReadError) as probed:
            probe_image(str(tmp_path / name))
        assert reason in probed.value.reason, name
        with pytest.raises(ImageReadError) as loaded:
            load_image_array(str(tmp_path / name), 16)
        assert reason in loaded.value.reason, name


def test_padding_or_data_after_jpeg_end_is_accepted(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray(gradient(64, 48)).save(good)
    (tmp_path / "padded.jpg").write_bytes(good.read_bytes() + b"\x00" * 300 + b"\n")
    (tmp_path / "trailer.jpg").write_bytes(good.read_bytes() + os.urandom(4000))
    assert probe_image(str(tmp_path / "padded.jpg")) == (64, 48)
    assert probe_image(str(tmp_path / "trailer.jpg")) == (64, 48)


def test_decompression_bomb_png_is_refused(tmp_path):
    path = png_with_header_size(tmp_path / "bomb.png", 20000, 20000)
    with pytest.raises(ImageReadError, match="image too large") as error:
        probe_image(str(path))
    assert "limit 178 megapixels" in error.value.reason
    with pytest.raises(ImageReadError, match="image too large"):
        open_image_rgb(str(path))


def test_own_pixel_limit_applies_even_if_pillow_limit_is_off(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    path = png_with_header_size(tmp_path / "big.png", 14000, 14000)
    assert 14000 * 14000 > MAX_PIXELS
    with pytest.raises(ImageReadError) as error:
        probe_image(str(path))
    assert error.value.reason == "image too large (14000x14000 pixels; limit 178 megapixels)"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permission_denied(tmp_path):
    path = solid(tmp_path / "locked.png")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user can read any file (root)")
        with pytest.raises(ImageReadError, match="cannot read file: permission denied"):
            probe_image(str(path))
    finally:
        path.chmod(0o644)


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "猫"
    folder.mkdir()
    path = solid(folder / "写真1.jpg", BLUE)
    assert probe_image(str(path)) == (24, 16)
    assert close_to(load_image_array(str(path), 8)[4, 4], BLUE, 10)
