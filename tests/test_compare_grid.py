"""The Compare grid (issue 15): modes x backbones trained one after the other on the same split,
each run with its time per epoch and peak memory, the table's columns and the sentence about
transfer; the window's grid of ticks and its estimate."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from synthetic import make_color_dataset, tiny_spec  # noqa: E402
from transfer_gui.core.compare import COLUMNS, compare_runs, format_table  # noqa: E402
from transfer_gui.core.compare_summary import transfer_summary  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.jobs import events  # noqa: E402
from transfer_gui.core.jobs.compare_modes import compare_grid_job, estimate_job, grid_configs  # noqa: E402,E501
from transfer_gui.core.jobs.state import RecordingState  # noqa: E402
from transfer_gui.core.models import register_backbone, unregister_backbone  # noqa: E402
from transfer_gui.core.run import Run  # noqa: E402
from transfer_gui.core.training.config import FEATURE_EXTRACTION, FROM_SCRATCH  # noqa: E402

QUICK = {"epochs": 1, "batch_size": 8, "head_l2": 1e-3}  # a given L2: no search (seconds)


@pytest.fixture(autouse=True)
def _fresh_feature_cache(monkeypatch):
    monkeypatch.setattr("transfer_gui.core.training.engine.default_feature_cache",
                        lambda: FeatureCache())


@pytest.fixture
def two_backbones(tiny_backbone, tmp_path_factory):
    other = tiny_spec(tmp_path_factory.mktemp("tiny_b") / "b.pth", name="tiny_b")
    register_backbone(other)
    yield tiny_backbone.name, other.name
    unregister_backbone(other.name)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_color_dataset(tmp_path_factory.mktemp("grid") / "colors", per_class=8)


def test_a_grid_trains_every_cell_on_one_split_and_records_time_and_memory(two_backbones, data,
                                                                          tmp_path):
    a, b = two_backbones
    cells = [(a, FEATURE_EXTRACTION), (a, FROM_SCRATCH), (b, FEATURE_EXTRACTION),
             (b, FROM_SCRATCH)]
    seconds = estimate_job(RecordingState(), grid_configs(str(data), cells, QUICK))
    assert len(seconds) == 4 and all(s > 0 for s in seconds)

    state = RecordingState()
    folders = compare_grid_job(state, str(data), cells, tmp_path / "runs", QUICK)
    trained = state.of_type(events.RunTrained)
    assert [(e.result.config.backbone, e.result.config.mode) for e in trained] == cells
    assert [Path(e.result.run_dir) for e in trained] == folders
    assert "(4/4)" in state.progresses[-1].message

    splits = [{name: sorted(s.path for s in Run.open(f).dataset().split(name))
               for name in ("train", "val")} for f in folders]
    assert all(split == splits[0] for split in splits[1:])  # the same split for every cell

    summaries = compare_runs(folders)
    for s in summaries:
        assert s.epoch_seconds is not None and s.epoch_seconds > 0, s.name
        assert s.peak_memory_bytes is not None and s.peak_memory_bytes > 0, s.name  # Linux
        assert s.peak_memory_bytes >= s.start_memory_bytes
        assert s.val_images == len(splits[0]["val"]) and s.best_val_acc is not None

    assert {"macro-F1", "seconds", "s/epoch", "peak MB"} <= set(COLUMNS)
    header, *rows = format_table(summaries).splitlines()
    assert "s/epoch" in header and "peak MB" in header and len(rows) == 4

    text = transfer_summary(summaries, {a: "Tiny A", b: "Tiny B"})
    for backbone in ("Tiny A", "Tiny B"):
        runs = {s.mode: s for s in summaries if s.backbone == {"Tiny A": a, "Tiny B": b}[backbone]}
        fe, scratch = runs[FEATURE_EXTRACTION], runs[FROM_SCRATCH]
        assert (f"{backbone}: feature extraction reached {fe.best_val_acc:.0%} in "
                in text), text
        assert f"; from scratch {scratch.best_val_acc:.0%} in " in text, text
    assert "Highest: " in text


def test_stopping_a_grid_keeps_the_runs_it_finished(two_backbones, data, tmp_path):
    a, b = two_backbones
    state = RecordingState(cancel_after_events=1)
    from transfer_gui.core.errors import Cancelled

    with pytest.raises(Cancelled):
        compare_grid_job(state, str(data), [(a, FEATURE_EXTRACTION), (b, FEATURE_EXTRACTION)],
                         tmp_path / "runs", QUICK)
    assert len(state.of_type(events.RunTrained)) == 1
    assert len(list((tmp_path / "runs").iterdir())) == 1
