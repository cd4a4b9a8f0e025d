"""Tests for transfer_gui.core.data.store.ImageStore: decode once, RAM budget, disk spill."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transfer_gui.core.data import ImageReadError, ImageStore, load_image_array
from transfer_gui.core.errors import Cancelled
from transfer_gui.core.jobs import CancelToken

SIZE = 16
RECORD = SIZE * SIZE * 3


def make_images(folder: Path, count: int) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def cache_folders(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith("transfer_gui_cache_")]


def test_get_decodes_once_and_returns_read_only_arrays(tmp_path):
    paths = make_images(tmp_path, 3)
    with ImageStore(paths, SIZE) as store:
        first = store.get(1)
        assert store.get(1) is first
        assert first.shape == (SIZE, SIZE, 3) and first.dtype == np.uint8
        assert not first.flags.writeable
        np.testing.assert_array_equal(first, load_image_array(paths[1], SIZE))
        assert len(store) == 3 and store.size == SIZE
        assert store.nbytes_in_memory == RECORD and store.nbytes_on_disk == 0


def test_items_beyond_the_budget_spill_to_one_disk_file(tmp_path):
    paths = make_images(tmp_path, 5)
    cache_parent = tmp_path / "cache"
    cache_parent.mkdir()
    store = ImageStore(paths, SIZE, memory_budget_bytes=2 * RECORD, cache_dir=str(cache_parent))
    arrays = [store.get(i) for i in range(5)]
    assert store.nbytes_in_memory == 2 * RECORD
    assert store.nbytes_on_disk == 3 * RECORD
    (folder,) = cache_folders(cache_parent)
    assert len(list(folder.iterdir())) == 1
    for i in range(5):
        again = store.get(i)
        np.testing.assert_array_equal(again, load_image_array(paths[i], SIZE))
        np.testing.assert_array_equal(again, arrays[i])
    batch = store.get_many([4, 0, 3])
    assert batch.shape == (3, SIZE, SIZE, 3) and batch.flags.writeable
    np.testing.assert_array_equal(batch[0], arrays[4])
    assert store.get_many([]).shape == (0, SIZE, SIZE, 3)
    store.close()
    assert not folder.exists()
    with pytest.raises(ValueError, match="closed"):
        store.get(0)
    store.close()  # closing twice is fine


def test_forgotten_store_removes_its_cache(tmp_path):
    paths = make_images(tmp_path, 3)
    store = ImageStore(paths, SIZE, memory_budget_bytes=0, cache_dir=str(tmp_path))
    store.get(0)
    (folder,) = cache_folders(tmp_path)
    del store
    gc.collect()
    assert not folder.exists()


def test_failures_are_reported_and_not_retried(tmp_path):
    paths = make_images(tmp_path, 2)
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    store = ImageStore([*paths, str(broken)], SIZE)
    with pytest.raises(ImageReadError) as error:
        store.get(2)
    assert error.value.reason == "not an image file"
    Image.new("RGB", (8, 8)).save(broken, format="JPEG")  # fixed on disk, but remembered
    with pytest.raises(ImageReadError):
        store.get(2)
    assert store.failures == {2: "not an image file"}
    with pytest.raises(IndexError):
        store.get(3)
    store.close()


def test_decode_all_reports_progress_and_failures(tmp_path):
    paths = make_images(tmp_path, 9)
    (tmp_path / "empty.png").write_bytes(b"")
    reports = []
    with ImageStore([*paths, str(tmp_path / "empty.png")], SIZE,
                    memory_budget_bytes=4 * RECORD, cache_dir=str(tmp_path)) as store:
        failures = store.decode_all(progress=reports.append, num_threads=2)
        assert failures == {9: "empty file (0 bytes)"}
        assert store.nbytes_in_memory + store.nbytes_on_disk == 9 * RECORD
        assert {r.stage for r in reports} == {"decode"}
        assert reports[0].message == "Decoding images 0/10"
        assert reports[-1].fraction == 1.0 and reports[-1].message == "Decoding images 10/10"
        for i in range(9):
            np.testing.assert_array_equal(store.get(i), load_image_array(paths[i], SIZE))
        assert store.decode_all([0, 9]) == {9: "empty file (0 bytes)"}


def test_decode_all_honours_cancel(tmp_path):
    paths = make_images(tmp_path, 12)
    token = CancelToken()
    token.cancel()
    with ImageStore(paths, SIZE) as store:
        with pytest.raises(Cancelled):
            store.decode_all(cancel=token)
        assert store.nbytes_in_memory == 0

        running = CancelToken()

        def cancel_on_first_report(progress):
            running.cancel()

        with pytest.raises(Cancelled):
            store.decode_all(progress=cancel_on_first_report, cancel=running, num_threads=1)
        assert store.nbytes_in_memory < 12 * RECORD


def test_concurrent_gets_agree(tmp_path):
    paths = make_images(tmp_path, 10)
    expected = [load_image_array(path, SIZE) for path in paths]
    errors = []
    with ImageStore(paths, SIZE, memory_budget_bytes=3 * RECORD, cache_dir=str(tmp_path)) as store:

        def read_all(offset: int) -> None:
            try:
                for round_ in range(3):
                    for i in range(10):
                        index = (i + offset + round_) % 10
                        np.testing.assert_array_equal(store.get(index), expected[index])
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=read_all, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert store.nbytes_in_memory + store.nbytes_on_disk == 10 * RECORD
    assert not cache_folders(tmp_path)
    assert os.listdir(tmp_path)  # the images themselves are untouched
