"""Issue 13: image files that must get a clear answer - special files and JPEGs too small
for the size their header claims."""

from __future__ import annotations

import io
import os
import signal
import struct

import numpy as np
import pytest
from PIL import Image

from synthetic import make_color_dataset
from transfer_gui.core.data import ImageReadError, load_image_array, probe_image, scan_dataset


def jpeg_claiming(size: int, progressive: bool = False) -> bytes:
    """A real 64x64 JPEG whose frame header says `size` x `size` pixels."""
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90, progressive=progressive)
    data = buffer.getvalue()
    start = data.find(b"\xff\xc2" if progressive else b"\xff\xc0")
    return data[:start + 5] + struct.pack(">HH", size, size) + data[start + 9:]


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_claiming_13000_pixels_with_64_pixels_of_data_is_damaged(tmp_path, progressive):
    path = tmp_path / "fake.jpg"
    path.write_bytes(jpeg_claiming(13000, progressive))
    for read in (probe_image, lambda p: load_image_array(p, 32)):
        with pytest.raises(ImageReadError, match="13000x13000.*cannot hold"):
            read(str(path))


def test_scan_skips_the_fake_size_jpeg_with_a_reason(tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=4, size=16)
    fake = data / "red" / "fake.jpg"
    fake.write_bytes(jpeg_claiming(13000))
    scan = scan_dataset(data)
    assert str(fake) not in [s.path for s in scan.samples]
    reasons = {s.path: s.reason for s in scan.skipped}
    assert "cannot hold" in reasons[str(fake)]


def test_an_honest_jpeg_still_reads(tmp_path):
    path = tmp_path / "ok.jpg"
    Image.new("RGB", (300, 200), (128, 128, 128)).save(path, quality=95)  # flat: tiny file
    assert probe_image(str(path)) == (300, 200)
    assert load_image_array(str(path), 32).shape == (32, 32, 3)


@pytest.fixture
def alarm():
    """Fail instead of hanging: a blocked open() gets SIGALRM after 10 s."""
    def on_alarm(*_):
        raise TimeoutError("reading the file hung")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path, alarm):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    for read in (probe_image, lambda p: load_image_array(p, 32)):
        with pytest.raises(ImageReadError, match="not a regular file: a pipe"):
            read(str(fifo))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_without_reading_it(alarm):
    with pytest.raises(ImageReadError, match="not a regular file: a device"):
        load_image_array("/dev/zero", 32)
