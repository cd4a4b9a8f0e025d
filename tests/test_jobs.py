"""Each background job of core/jobs/ run with a recording state (Orange3's test_owmds.py pattern):
real outputs, the typed events it emitted, its progress, and Stop where the job supports it.

Qt-free: the jobs never see a thread or a signal here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from synthetic import make_color_dataset, tiny_spec
from transfer_gui.core.data import DatasetScan
from transfer_gui.core.errors import Cancelled, EmptyClassError, WeightsError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.jobs import events
from transfer_gui.core.jobs.compare_modes import compare_modes_job, estimate_job, mode_configs
from transfer_gui.core.jobs.crossval import crossval_job
from transfer_gui.core.jobs.explain import PanelExplanation, explain_job
from transfer_gui.core.jobs.export import export_job
from transfer_gui.core.jobs.predict import predict_job
from transfer_gui.core.jobs.scan import scan_job
from transfer_gui.core.jobs.state import JobState, RecordingState
from transfer_gui.core.jobs.train import train_job
from transfer_gui.core.jobs.weights import download_job, import_job
from transfer_gui.core.models import register_backbone, unregister_backbone
from transfer_gui.core.training.config import MODES, TrainConfig
from transfer_gui.core.training.engine import train_run
from weights_server import served_backbone

FIXED_L2 = 1e-3  # the probe's L2 strength, given: no search over strengths (seconds per run)


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """The tiny test backbone, registered for this module as "tiny_jobs" (its name)."""
    spec = tiny_spec(tmp_path_factory.mktemp("tiny") / "tiny.pth", name="tiny_jobs")
    register_backbone(spec)
    yield spec.name
    unregister_backbone(spec.name)


@pytest.fixture(scope="module")
def color_dataset(tmp_path_factory):
    """3 colour classes x 8 small images (fast to train on)."""
    return make_color_dataset(tmp_path_factory.mktemp("data") / "colors", per_class=8, size=32)


@pytest.fixture(scope="module")
def trained_run(backbone, color_dataset, tmp_path_factory):
    """A feature-extraction run of the tiny backbone on the colour set (its folder)."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    config = TrainConfig.for_mode(str(color_dataset), "feature_extraction", backbone=backbone,
                                  epochs=2, head_l2=FIXED_L2)
    train_run(config, folder, feature_cache=FeatureCache())
    return folder


def test_recording_state_is_a_job_state_and_events_are_frozen():
    state = RecordingState(cancel_after_events=2)
    assert isinstance(state, JobState)
    state.emit(events.TrainingStopped(3))
    assert not state.cancel.cancelled
    state.emit(events.ExplainFailed("a.png", "unreadable"))
    assert state.cancel.cancelled  # Stop after the second event
    assert state.of_type(events.TrainingStopped) == [events.TrainingStopped(3)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.events[0].epoch = 4


def test_scan_job_scans_and_hands_back_empty_classes_to_leave_out(tmp_path):
    data = make_color_dataset(tmp_path / "data")
    (data / "empty").mkdir()
    state = RecordingState()
    error = scan_job(state, str(data))
    assert isinstance(error, EmptyClassError) and error.classes == ["empty"]
    scan = scan_job(state, str(data), leave_out_empty=True)
    assert isinstance(scan, DatasetScan) and scan.class_names == ["blue", "green", "red"]
    assert len(scan.samples) == 36  # 3 x 12
    assert state.progresses and state.events == []  # progress only, no events
    stopped = RecordingState()
    stopped.cancel.cancel()
    with pytest.raises(Cancelled):
        scan_job(stopped, str(data), True)


def test_train_job_emits_fit_batches_and_epochs(backbone, color_dataset, tmp_path):
    config = TrainConfig.for_mode(str(color_dataset), "fine_tuning", backbone=backbone,
                                  epochs=2, batch_size=8, early_stopping_patience=0,
                                  head_l2=FIXED_L2)
    state = RecordingState()
    result = train_job(state, config, tmp_path / "run", lambda: True)
    assert result.best is not None and (tmp_path / "run" / "model.pt").is_file()
    assert isinstance(state.events[0], events.FitStarted) and state.events[0].epochs == 2
    epochs = state.of_type(events.EpochEnded)
    assert [e.epoch for e in epochs] == [h["epoch"] for h in result.history] == [0, 1, 2]
    assert epochs[-1].metrics["val_acc"] == result.history[-1]["val_acc"]
    batches = state.of_type(events.BatchLoss)
    assert batches and all(b.loss > 0 and b.batches >= 1 for b in batches)
    assert [round(b.x, 6) for b in batches] == sorted(round(b.x, 6) for b in batches)
    assert not state.of_type(events.TrainingStopped)
    assert state.progresses and state.progresses[-1].fraction == pytest.approx(1.0)


def test_train_job_stops_after_an_epoch_and_keeps_the_best(backbone, color_dataset, tmp_path):
    config = TrainConfig.for_mode(str(color_dataset), "fine_tuning", backbone=backbone,
                                  epochs=20, batch_size=8, early_stopping_patience=0,
                                  head_l2=FIXED_L2)

    class StopAfterFirstTunedEpoch(RecordingState):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, events.EpochEnded) and event.epoch == 1:
                self.cancel.cancel()

    state = StopAfterFirstTunedEpoch()
    result = train_job(state, config, tmp_path / "run", lambda: True)
    assert result.cancelled and result.best is not None
    stopped = state.of_type(events.TrainingStopped)
    assert len(stopped) == 1 and stopped[0].epoch == 2  # during the second tuned epoch
    assert max(e.epoch for e in state.of_type(events.EpochEnded)) == 1


def test_predict_job_streams_rows_per_batch_and_stops(trained_run, color_dataset, tmp_path):
    files = sorted(str(p) for p in Path(color_dataset).rglob("*.png"))[:10]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    state = RecordingState()
    assert predict_job(state, str(trained_run), [*files, str(broken)], batch_size=4) == 11
    batches = state.of_type(events.PredictedRows)
    rows = [p for batch in batches for p in batch.rows]
    assert len(batches) >= 3 and [p.path for p in rows] == [*files, str(broken)]
    assert all(p.predicted in ("blue", "green", "red") for p in rows[:-1])
    assert rows[-1].error and not rows[0].error
    assert state.progresses[0].stage == "load"
    stopped = RecordingState(cancel_after_events=1)
    with pytest.raises(Cancelled):
        predict_job(stopped, str(trained_run), files, batch_size=2)
    assert len(stopped.of_type(events.PredictedRows)) == 1


def test_explain_job_explains_each_image_and_reports_the_bad_one(trained_run, color_dataset,
                                                                 tmp_path):
    files = sorted(str(p) for p in Path(color_dataset).glob("red/*.png"))[:2]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    state = RecordingState()
    assert explain_job(state, str(trained_run / "model.pt"), [files[0], str(broken), files[1]],
                       "gradcam", None, None) == 2
    explained = state.of_type(events.Explained)
    assert [e.item.explanation.path for e in explained] == files
    item = explained[0].item
    assert isinstance(item, PanelExplanation) and item.display_image.dtype == np.uint8
    assert item.display_map.shape == item.display_image.shape[:2]
    assert 0.0 <= item.display_map.min() and item.display_map.max() <= 1.0
    failed = state.of_type(events.ExplainFailed)
    assert [f.path for f in failed] == [str(broken)] and failed[0].reason
    stopped = RecordingState(cancel_after_events=1)
    with pytest.raises(Cancelled):
        explain_job(stopped, str(trained_run / "model.pt"), files, "gradcam", None, None)
    assert len(stopped.events) == 1


def test_export_job_writes_a_checked_torchscript_file(trained_run, tmp_path):
    state = RecordingState()
    result = export_job(state, str(trained_run), "torchscript", str(tmp_path / "out" / "m.pt"))
    assert result.check.passed and Path(result.path).is_file()
    assert state.progresses and state.events == []
    stopped = RecordingState()
    stopped.cancel.cancel()
    with pytest.raises(Cancelled):
        export_job(stopped, str(trained_run), "torchscript", str(tmp_path / "out2" / "m.pt"))


def test_crossval_job_scores_every_fold(backbone, tmp_path):
    data = make_color_dataset(tmp_path / "data", per_class=9)
    state = RecordingState()
    cv = crossval_job(state, str(data), backbone, 3, 0, "auto")
    assert cv.folds == 3 and len(cv.fold_scores) == 3 and cv.num_images == 27
    assert state.progresses
    stopped = RecordingState()
    stopped.cancel.cancel()
    with pytest.raises(Cancelled):
        crossval_job(stopped, str(data), backbone, 3, 0, "auto")


def test_compare_modes_jobs_estimate_then_train_each_mode(backbone, color_dataset, tmp_path):
    quick = {"epochs": 1, "batch_size": 8, "head_l2": FIXED_L2}
    configs = mode_configs(str(color_dataset), backbone, quick)
    assert [c.mode for c in configs] == list(MODES)
    seconds = estimate_job(RecordingState(), configs)
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
    state = RecordingState()
    folders = compare_modes_job(state, str(color_dataset), backbone, tmp_path / "runs", quick)
    trained = state.of_type(events.RunTrained)
    assert [e.result.config.mode for e in trained] == list(MODES)
    assert [Path(e.result.run_dir) for e in trained] == folders
    assert all((folder / "model.pt").is_file() for folder in folders)
    assert "(3/3)" in state.progresses[-1].message


def test_compare_modes_job_stops_after_the_run_it_is_in(backbone, color_dataset, tmp_path):
    state = RecordingState(cancel_after_events=1)
    with pytest.raises(Cancelled):
        compare_modes_job(state, str(color_dataset), backbone, tmp_path / "runs",
                          {"epochs": 1, "batch_size": 8, "head_l2": FIXED_L2})
    assert len(state.of_type(events.RunTrained)) == 1
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_weights_jobs_download_with_progress_and_import_checks(tmp_path):
    with served_backbone(tmp_path / "www", "tinyjob") as (spec, _, published):
        state = RecordingState()
        path = Path(download_job(state, "tinyjob"))
        assert path.read_bytes() == published.read_bytes()
        assert state.progresses and state.progresses[-1].stage == "download"
        assert state.progresses[-1].fraction == pytest.approx(1.0)
        copy = tmp_path / "my-download.pth"
        copy.write_bytes(published.read_bytes())
        assert Path(import_job(RecordingState(), "tinyjob", str(copy))) == path
        wrong = tmp_path / "other.pth"
        wrong.write_bytes(b"not weights")
        with pytest.raises(WeightsError):
            import_job(RecordingState(), "tinyjob", str(wrong))
