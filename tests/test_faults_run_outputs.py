"""Found re-checking issue 13 by hand: `train --out` in a read-only folder, one without
permission or on a full disk is one clear line (exit 2), not a traceback from the lock file;
`evaluate --out`, `predict --csv` and `cam --out` are refused inside a run folder (an evaluation's
JSON replaced the run's own evaluation.json); `evaluate` names the images its dataset scan left
out, not only the ones that failed to decode."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from synthetic import make_color_dataset
from transfer_gui.cli import main
from transfer_gui.core import run_writer


def _train(data: Path, out: Path) -> int:
    return main(["train", "--data", str(data), "--out", str(out), "--backbone", "tiny_test",
                 "--epochs", "1", "--batch-size", "8", "--probe-l2", "0.001"])


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("code, words", [(errno.EROFS, "is read-only"),
                                         (errno.EACCES, "No permission"),
                                         (errno.ENOSPC, "No space left")])
def test_train_into_a_folder_it_cannot_write_is_one_line(tiny_backbone, color_dataset, tmp_path,
                                                         monkeypatch, capsys, code, words):
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if str(path).endswith(".lock"):  # the first thing a training writes
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    out = tmp_path / "runs" / "new"
    assert _train(color_dataset, out) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and "unexpected" not in err
    assert str(out) in err or str(out.parent) in err
    assert sorted(p.name for p in out.parent.iterdir()) == []  # no lock, no staging folder


def test_a_lock_that_could_not_be_written_is_not_left_behind(tiny_backbone, color_dataset,
                                                             tmp_path, monkeypatch, capsys):
    def disk_full(obj, file):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(run_writer.json, "dump", disk_full)
    out = tmp_path / "runs" / "new"
    assert _train(color_dataset, out) == 2
    assert "No space left" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []  # an ownerless lock would stop every later train
    monkeypatch.undo()
    assert _train(color_dataset, out) == 0


@pytest.fixture
def good_run(tiny_backbone, color_dataset, tmp_path):
    run = tmp_path / "good"
    assert _train(color_dataset, run) == 0
    return run


@pytest.mark.parametrize("command", [
    ["evaluate", "{run}", "--out", "{run}/evaluation.json"],
    ["predict", "{run}", "{image}", "--csv", "{run}/predictions.csv"],
    ["cam", "{run}", "{image}", "--out", "{run}"],
    ["cam", "{run}", "{image}", "--out", "{run}/cams"],
])
def test_outputs_inside_a_run_folder_are_refused(good_run, color_dataset, capsys, command):
    image = next((color_dataset / "red").iterdir())
    before = _fingerprint(good_run)
    args = [a.format(run=good_run, image=image) for a in command]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert "inside the run folder" in err and str(good_run) in err and "Traceback" not in err
    assert out == ""  # refused before any work
    assert _fingerprint(good_run) == before and not (good_run / "cams").exists()


def test_evaluate_names_the_images_the_scan_left_out(tiny_backbone, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "data", per_class=9, size=32, layout="splits")
    (data / "val" / "red" / "junk.png").write_bytes(b"not a picture")
    (data / "val" / "red" / "notes.txt").write_text("a text file is not an image left out")
    (data / "train" / "blue" / "other.png").write_bytes(b"not in the val split")
    run = tmp_path / "run"
    assert _train(data, run) == 0
    capsys.readouterr()
    scores = tmp_path / "scores.json"
    assert main(["evaluate", str(run), "--split", "val", "--out", str(scores)]) == 0
    out = capsys.readouterr().out
    assert "left out 1 image file(s)" in out and "junk.png: not an image file" in out
    assert "notes.txt" not in out and "other.png" not in out
    written = json.loads(scores.read_text())
    assert written["num_skipped_by_scan"] == 1
    assert written["skipped_by_scan"][0]["file"].endswith("junk.png")
    assert written["num_unreadable"] == 0  # the decode failures are counted apart


def test_a_flat_dataset_names_its_unreadable_images_for_any_split(tiny_backbone, tmp_path):
    from transfer_gui.core.data import scan_dataset

    data = make_color_dataset(tmp_path / "data", per_class=9, size=32)
    (data / "red" / "junk.png").write_bytes(b"not a picture")
    scan = scan_dataset(data)
    for split in ("train", "val", "test"):  # a file that could not be read was never split
        assert [Path(item.path).name for item in scan.unreadable_in(split)] == ["junk.png"]
