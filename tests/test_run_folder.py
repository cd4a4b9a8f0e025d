"""A run folder is written whole or not at all, has one owner (core/run.py), and a good one is
never touched by a failed, interrupted or concurrent training or by an export aimed at it."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from transfer_gui.core.errors import DatasetError, UserError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.jobs import CancelToken
from transfer_gui.core.run import RUN_FILES, NotARunError, Run
from transfer_gui.core.run_writer import RunFolderError, RunWriter
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run
from transfer_gui.core.training.loop import Callback

ROOT = Path(__file__).resolve().parents[1]


def config(data, mode="feature_extraction", **kw):
    return TrainConfig.for_mode(str(data), mode, backbone="tiny_test",
                                **{"epochs": 2, "batch_size": 8, "head_l2": 1e-3, **kw})


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under `folder` (names and bytes), to prove it was not touched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def good_run(tiny_backbone, color_dataset, tmp_path):
    run = tmp_path / "runs" / "good"
    result = train_run(config(color_dataset), run, feature_cache=FeatureCache())
    assert result.run_dir == run and Run.open(run).has_model
    return run, fingerprint(run)


class CancelAfterFirstEpoch(Callback):
    def __init__(self, token: CancelToken) -> None:
        self.token = token

    def after_epoch(self, trainer) -> None:
        self.token.cancel()


def test_a_run_is_staged_and_moved_into_place(tiny_backbone, color_dataset, tmp_path):
    seen = []

    class Look(Callback):
        def after_epoch(self, trainer) -> None:
            seen.append(sorted(p.name for p in (tmp_path / "runs").iterdir()))

    out = tmp_path / "runs" / "r1"
    result = train_run(config(color_dataset), out, callbacks=[Look()], feature_cache=FeatureCache())
    assert seen and all("r1" not in names for names in seen)  # not in place while training
    assert any(n.startswith(".r1.partial-") for n in seen[0])
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r1"]  # no lock, no stage
    run = Run.open(result.run_dir)
    assert set(run.files_present()) == set(RUN_FILES)
    assert Path(run.config().data_dir).is_absolute()


def test_an_existing_run_is_refused_without_overwrite(good_run, color_dataset):
    run, before = good_run
    with pytest.raises(RunFolderError, match="already holds a run.*--overwrite"):
        train_run(config(color_dataset), run, feature_cache=FeatureCache())
    assert fingerprint(run) == before


def test_a_folder_with_other_files_or_a_file_is_refused(tiny_backbone, color_dataset, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not a run"):
        train_run(config(color_dataset), tmp_path / "notes", feature_cache=FeatureCache())
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RunFolderError, match="is a file"):
        train_run(config(color_dataset), tmp_path / "afile", feature_cache=FeatureCache())
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_a_failed_retrain_leaves_the_good_run_byte_identical(good_run, tmp_path):
    run, before = good_run
    empty = tmp_path / "only_train"
    for c in ("a", "b"):
        (empty / c).mkdir(parents=True)  # classes without images: the scan refuses
    with pytest.raises(UserError):
        train_run(config(empty), run, overwrite=True, feature_cache=FeatureCache())
    assert fingerprint(run) == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["good"]  # nothing left behind


def test_an_interrupted_retrain_is_kept_aside(good_run, color_dataset):
    run, before = good_run
    token = CancelToken()
    result = train_run(config(color_dataset, "fine_tuning", epochs=5), run, overwrite=True,
                       cancel=token, callbacks=[CancelAfterFirstEpoch(token)],
                       feature_cache=FeatureCache())
    assert result.cancelled
    assert fingerprint(run) == before
    assert result.run_dir == run.parent / "good.partial"
    assert Run.open(result.run_dir).result()["cancelled"]


def test_overwrite_replaces_the_run_once_the_new_one_has_a_model(good_run, color_dataset):
    run, before = good_run
    result = train_run(config(color_dataset, epochs=3), run, overwrite=True,
                       feature_cache=FeatureCache())
    assert result.run_dir == run and fingerprint(run) != before
    assert Run.open(run).config().epochs == 3
    assert sorted(p.name for p in run.parent.iterdir()) == ["good"]


def test_a_second_writer_is_stopped_by_the_lock(tiny_backbone, color_dataset, tmp_path):
    out = tmp_path / "runs" / "busy"
    out.parent.mkdir()
    lock = out.parent / ".busy.lock"
    lock.write_text(json.dumps({"pid": os.getppid(), "host": platform.node()}))  # alive
    with pytest.raises(RunFolderError, match=f"process {os.getppid()}.*{re.escape(str(lock))}"):
        train_run(config(color_dataset), out, feature_cache=FeatureCache())
    assert not out.exists() and lock.exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tiny_backbone, color_dataset, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    out = tmp_path / "runs" / "stale"
    out.parent.mkdir()
    (out.parent / ".stale.lock").write_text(json.dumps({"pid": int(dead.stdout),
                                                        "host": platform.node()}))
    result = train_run(config(color_dataset), out, feature_cache=FeatureCache())
    assert result.run_dir == out and not (out.parent / ".stale.lock").exists()


def test_leftover_temporary_files_are_removed_on_open(good_run):
    run, _ = good_run
    leftover = run / ".result.json.abc123.tmp"
    leftover.write_text("{half")
    Run.open(run)
    assert not leftover.exists()


def test_open_refuses_a_folder_without_a_config(tmp_path):
    with pytest.raises(NotARunError, match="not a run folder"):
        Run.open(tmp_path)


def test_an_export_into_the_run_folder_is_refused(good_run):
    from transfer_gui.core.export import export_run

    run, before = good_run
    for target in (run / "model.pt", run / "export.onnx", run / "sub" / "bundle"):
        fmt = "bundle" if target.name == "bundle" else "torchscript"
        with pytest.raises(UserError, match="inside the run folder"):
            export_run(run, fmt, target)
    assert fingerprint(run) == before


def test_evaluate_works_from_another_working_directory(good_run, tmp_path, monkeypatch):
    from transfer_gui.cli import main

    run, _ = good_run
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(run)]) == 0


def test_a_relative_dataset_path_is_recorded_absolute(tiny_backbone, color_dataset, tmp_path,
                                                      monkeypatch):
    monkeypatch.chdir(color_dataset.parent)
    result = train_run(config(Path(color_dataset.name)), tmp_path / "runs" / "rel",
                       feature_cache=FeatureCache())
    assert Run.open(result.run_dir).data_dir() == color_dataset.resolve()


def test_no_module_but_the_run_owner_names_the_run_files():
    """Every reader and writer of a run folder goes through core/run.py (and run_writer.py)."""
    names = [n for n in RUN_FILES if n != "model.pt"]
    pattern = re.compile("|".join(re.escape(f'"{n}"') for n in names))
    model = re.compile(r'/ "model\.pt"')  # a run's model path built by hand
    owners = {"core/run.py", "core/run_writer.py"}
    offenders = []
    for path in (ROOT / "transfer_gui").rglob("*.py"):
        rel = path.relative_to(ROOT / "transfer_gui").as_posix()
        if rel in owners:
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{rel}: {m.group()}" for m in pattern.finditer(text)]
        if not rel.startswith("core/export/"):  # an export's own model.pt is not a run's
            offenders += [f"{rel}: {m.group()}" for m in model.finditer(text)]
    assert not offenders, offenders


def test_training_takes_the_scan_already_made_when_its_settings_match(
        tiny_backbone, color_dataset, tmp_path, monkeypatch):
    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.training import engine

    scan = scan_dataset(str(color_dataset), val_fraction=0.2, test_fraction=0.1, seed=3)
    calls = []
    monkeypatch.setattr(engine, "scan_dataset", lambda *a, **k: calls.append(k) or scan_dataset(*a, **k))
    same = config(color_dataset, val_fraction=0.2, test_fraction=0.1, split_seed=3)
    result = train_run(same, tmp_path / "a", dataset=scan, feature_cache=FeatureCache())
    assert calls == [] and result.dataset is scan
    other_seed = config(color_dataset, val_fraction=0.2, test_fraction=0.1, split_seed=4)
    result = train_run(other_seed, tmp_path / "b", dataset=scan, feature_cache=FeatureCache())
    assert len(calls) == 1 and result.dataset.split_seed == 4


def test_a_reopened_run_takes_the_scan_already_made(good_run, monkeypatch):
    from transfer_gui.core.run_result import load_run_result

    run, _ = good_run
    scan = Run.open(run).dataset()
    monkeypatch.setattr(Run, "dataset", lambda self, **k: pytest.fail("scanned again"))
    assert load_run_result(run, scan).dataset is scan


def test_no_nan_reaches_the_metrics_file(tmp_path):
    with RunWriter(tmp_path / "r") as out:
        out.append_metrics({"epoch": 1, "val_loss": float("nan"), "train_loss": float("inf")})
        line = out.file("metrics.jsonl").read_text()
    assert json.loads(line) == {"epoch": 1, "val_loss": None, "train_loss": None}
    assert not (tmp_path / "r").exists()  # never committed: nothing stays


def test_train_exits_1_when_the_run_kept_no_model(color_dataset, tmp_path, monkeypatch, capsys):
    from transfer_gui.cli import main
    from transfer_gui.core.training import engine

    def diverged(config, run_dir, **kw):  # e.g. the loss became NaN in the first epoch
        return engine.TrainingResult(Path(run_dir), config, None, stop_reason="loss became NaN")

    monkeypatch.setattr(engine, "train_run", diverged)
    assert main(["train", "--data", str(color_dataset), "--out", str(tmp_path / "r")]) == 1
    assert "No epoch finished, so no model was saved." in capsys.readouterr().out
