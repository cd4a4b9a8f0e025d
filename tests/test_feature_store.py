"""Backbone features kept on disk between sessions: a restart (a new FeatureCache on the same
folder) trains without running the backbone; the folder stays within its size limit by deleting
the least recently used entries; a damaged entry is a miss and is deleted."""

from __future__ import annotations

import os

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
