"""The feature cache: a truncated entry is recomputed and replaced; a --cache-dir that is a file
or read-only is refused before any feature is computed."""

from __future__ import annotations

import numpy as np
import pytest

from transfer_gui.cli import main
from transfer_gui.core import atomic
from transfer_gui.core.errors import UserError
from transfer_gui.core.feature_cache import FeatureCache, configure_default_feature_cache
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


def _train(data, out, cache_dir):
    return train_run(TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                          epochs=2, batch_size=8), out,
                     feature_cache=FeatureCache(cache_dir))


def test_a_truncated_entry_is_recomputed_and_replaced(tiny_backbone, color_dataset, tmp_path,
                                                      backbone_calls):
    cache = tmp_path / "cache"
    _train(color_dataset, tmp_path / "r1", cache)
    entries = sorted(cache.iterdir())
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    backbone_calls.clear()
    result = _train(color_dataset, tmp_path / "r2", cache)
    assert result.best is not None and sum(backbone_calls) > 0  # recomputed
    for entry in sorted(cache.iterdir()):
        with np.load(entry, allow_pickle=False) as saved:  # replaced by a whole entry
            assert saved["data"].shape[0] > 0
    backbone_calls.clear()
    _train(color_dataset, tmp_path / "r3", cache)
    assert sum(backbone_calls) == 0  # and used again


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_a_bad_cache_dir_is_refused_before_any_feature(tiny_backbone, color_dataset, tmp_path,
                                                       backbone_calls, capsys, monkeypatch, kind):
    cache = tmp_path / "cache"
    if kind == "file":
        cache.write_text("not a folder")
    else:
        cache.mkdir()
        monkeypatch.setattr(atomic.os, "access", lambda path, mode: False)
    code = main(["train", "--data", str(color_dataset), "--out", str(tmp_path / "run"),
                 "--backbone", "tiny_test", "--cache-dir", str(cache)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(cache) in err and "Traceback" not in err
    assert backbone_calls == []
    assert not (tmp_path / "run" / "model.pt").exists()


def test_the_app_cache_falls_back_to_memory_when_its_folder_is_a_file(tmp_path):
    (tmp_path / "cache").write_text("x")
    with pytest.raises(UserError, match="feature cache folder"):
        FeatureCache(tmp_path / "cache")
    assert configure_default_feature_cache(tmp_path / "cache").directory is None
