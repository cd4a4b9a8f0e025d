"""Backbone features kept on disk between sessions: a restart (a new FeatureCache on the same
folder) trains without running the backbone; the folder stays within its size limit by deleting
the least recently used entries; a damaged entry is a miss and is deleted."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from transfer_gui.core.feature_store import FeatureStore
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


def config(data, **kw):
    return TrainConfig.for_mode(str(data), backbone="tiny_test", epochs=2, head_l2=1e-3, **kw)


def test_a_restart_reads_features_from_disk(tiny_backbone, color_dataset, tmp_path, backbone_calls):
    cache_dir = tmp_path / "features"
    first = train_run(config(color_dataset), tmp_path / "a", feature_cache=FeatureCache(cache_dir))
    assert sum(backbone_calls) == len(first.dataset.samples)
    assert FeatureCache(cache_dir).disk_bytes() > 0
    # A new session: a new cache object on the same folder, nothing in memory.
    second = train_run(config(color_dataset), tmp_path / "b", feature_cache=FeatureCache(cache_dir))
    assert sum(backbone_calls) == len(first.dataset.samples)  # the backbone did not run again
    assert second.best["val_acc"] == first.best["val_acc"]
    # An edited image (new modification time) is recomputed, and only that one.
    image = color_dataset / "red" / "red_000.png"
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    train_run(config(color_dataset), tmp_path / "c", feature_cache=FeatureCache(cache_dir))
    assert sum(backbone_calls) == len(first.dataset.samples) + 1


def test_without_a_folder_nothing_is_written(tiny_backbone, color_dataset, tmp_path, backbone_calls):
    cache = FeatureCache()
    train_run(config(color_dataset), tmp_path / "a", feature_cache=cache)
    assert cache.disk_bytes() == 0 and cache.clear_disk() == 0
    train_run(config(color_dataset), tmp_path / "b", feature_cache=FeatureCache())
    assert sum(backbone_calls) == 2 * 36  # a new in-memory cache computes everything again


def rows(n, dim=4, value=1.0):
    return np.full((n, dim), value, np.float32)


def test_least_recently_used_entries_are_deleted_first(tmp_path):
    store = FeatureStore(tmp_path)
    sigs = [f"/d/x{i}.png|1|1" for i in range(100)]
    paths = {name: store.save("r", name, sigs, rows(100)) for name in ("a", "b", "c")}
    size = paths["a"].stat().st_size
    assert store.size_bytes() == 3 * size
    assert store.load("r", "a", 4) is not None  # a used again: b is now the oldest
    store.max_bytes = 3 * size  # room for three
    paths["d"] = store.save("r", "d", sigs, rows(100))
    assert store.evict(keep=[paths["d"]]) == [paths["b"]]
    assert store.load("r", "b", 4) is None
    store.max_bytes = 2 * size
    assert store.evict() == [paths["c"]]
    assert {p.name for p in tmp_path.iterdir()} == {paths["a"].name, paths["d"].name}
    assert store.clear() == 2 * size and store.size_bytes() == 0


def test_the_cache_keeps_its_folder_within_the_limit(tmp_path):
    """Through FeatureCache.save: the folder just written stays, older folders go."""
    cache = FeatureCache(tmp_path, max_bytes=1)
    cache.store("r", ["/d/a/x.png|1|1"], rows(1))
    cache.save()
    cache.store("r", ["/d/b/x.png|1|1"], rows(1))
    cache.save()
    fresh = FeatureCache(tmp_path)
    _, missing = fresh.lookup("r", ["/d/a/x.png|1|1", "/d/b/x.png|1|1"], 4)
    assert missing == [0]  # folder a was evicted, folder b is kept


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04broken", b"\x93NUMPY garbage", b"not numpy"])
def test_a_damaged_entry_is_a_miss_and_is_deleted(tmp_path, damage):
    cache = FeatureCache(tmp_path)
    sigs = ["/d/a/x.png|1|1", "/d/a/y.png|1|1"]
    cache.store("r", sigs, rows(2, value=3.0))
    cache.save()
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(damage)
    found, missing = FeatureCache(tmp_path).lookup("r", sigs, 4)
    assert missing == [0, 1] and not entry.exists()


def test_an_entry_of_another_shape_is_not_used(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.store("r", ["/d/a/x.png|1|1"], rows(1, dim=4, value=2.0))
    cache.save()
    _, missing = FeatureCache(tmp_path).lookup("r", ["/d/a/x.png|1|1"], 8)
    assert missing == [0]
    found, missing = FeatureCache(tmp_path).lookup("r", ["/d/a/x.png|1|1"], 4)
    assert missing == [0]  # the mismatched entry was deleted


def test_an_edited_image_keeps_only_its_newest_row_on_disk(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.store("r", ["/d/a/x.png|1|1"], rows(1, value=1.0))
    cache.store("r", ["/d/a/x.png|2|2"], rows(1, value=2.0))
    cache.save()
    sigs, data = FeatureStore(tmp_path).load("r", "/d/a", 4)
    assert sigs == ["/d/a/x.png|2|2"] and data[0, 0] == 2.0


def test_entries_are_plain_numpy_files(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.store("r", ["/d/a/x.png|1|1"], rows(1, value=5.0))
    cache.save()
    (entry,) = tmp_path.iterdir()
    with np.load(entry, allow_pickle=False) as saved:
        assert saved["data"].dtype == np.float32 and float(saved["data"][0, 0]) == 5.0


# -- a dataset's features on disk (core/feature_matrix.py) ---------------------------------------
def test_large_feature_sets_live_in_a_disk_backed_array_with_the_same_rows(
        tmp_path, color_dataset, tiny_backbone, monkeypatch):
    from transfer_gui.core import feature_matrix
    from transfer_gui.core.features import FeatureCache, dataset_features
    from transfer_gui.core.data import scan_dataset

    files = [s.path for s in scan_dataset(color_dataset).samples]
    options = dict(augmentation="light", augmented_views=2, seed=1,
                   views_for=lambda i: i % 2 == 0)
    in_memory = dataset_features(tiny_backbone, files, cache=FeatureCache(), **options)
    assert not isinstance(in_memory.matrix, np.memmap)
    monkeypatch.setattr(feature_matrix, "DISK_BACKED_BYTES", 0)
    on_disk = dataset_features(tiny_backbone, files, cache=FeatureCache(tmp_path / "c"),
                               **options)
    assert isinstance(on_disk.matrix, np.memmap)
    assert list(on_disk.counts) == [3 if i % 2 == 0 else 1 for i in range(len(files))]
    np.testing.assert_allclose(on_disk.center(range(len(files))),
                               in_memory.center(range(len(files))), atol=1e-6)
    rows, owner = on_disk.all_views([4, 1, 2])
    assert list(owner) == [0, 0, 0, 1, 2, 2, 2]
    np.testing.assert_allclose(rows, np.concatenate([in_memory.views_of(i) for i in (4, 1, 2)]),
                               atol=1e-6)
    # looked up again from the disk cache: the same rows, nothing recomputed
    again = dataset_features(tiny_backbone, files, cache=FeatureCache(tmp_path / "c"), **options)
    np.testing.assert_array_equal(np.asarray(again.matrix), np.asarray(on_disk.matrix))


def test_a_full_disk_keeps_the_features_in_memory(monkeypatch, tmp_path):
    import errno
    import os

    from transfer_gui.core.feature_matrix import allocate_rows

    def no_space(fd, offset, size):
        raise OSError(errno.ENOSPC, "No space left on device")

    rows = allocate_rows(1000, 64, tmp_path, disk_backed_bytes=0)
    assert isinstance(rows, np.memmap) and rows.shape == (1000, 64) and not rows.any()
    assert list(tmp_path.iterdir()) == []  # an anonymous file: nothing is left behind
    monkeypatch.setattr(os, "posix_fallocate", no_space, raising=False)
    rows = allocate_rows(1000, 64, tmp_path, disk_backed_bytes=0)
    assert not isinstance(rows, np.memmap) and rows.shape == (1000, 64)


def test_released_pages_of_a_disk_backed_array_keep_their_rows(tmp_path):
    from transfer_gui.core.feature_matrix import allocate_rows, gather, release_pages

    rows = allocate_rows(20_000, 64, tmp_path, disk_backed_bytes=0)  # 5 MB
    values = np.random.default_rng(0).random((20_000, 64), dtype=np.float32)
    rows[:] = values
    linux = sys.platform.startswith("linux")
    resident = _resident_bytes() if linux else 0
    release_pages(rows)
    if linux:
        assert _resident_bytes() < resident - 3_000_000  # the pages left this process
    picked = np.array([19_999, 3, 8_192, 8_191, 3])
    np.testing.assert_array_equal(gather(rows, picked), values[picked])
    np.testing.assert_array_equal(np.asarray(rows), values)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
