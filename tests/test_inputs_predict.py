"""Issue 13: predict and evaluate answer clearly for odd names, special files, unreadable folders
and undecodable images."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from pathlib import Path

import pytest

from synthetic import make_color_dataset
from transfer_gui.cli import main
from transfer_gui.core import predict as predict_module
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX file names and FIFOs")


@pytest.fixture
def trained(tiny_backbone, tmp_path):
    """(dataset folder, run folder) of a small feature-extraction run."""
    data = make_color_dataset(tmp_path / "data", classes=("red", "blue"), per_class=10, size=32)
    config = TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                  epochs=2, batch_size=8)
    train_run(config, tmp_path / "run", feature_cache=FeatureCache())
    return data, tmp_path / "run"


def copy_image(data: Path, target: bytes) -> None:
    """Copy one dataset image to the file system name `target` (raw bytes)."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as file:
        file.write((data / "red" / "red_000.png").read_bytes())


@posix_only
def test_names_with_newline_tab_and_non_utf8_bytes_give_one_row_each(trained, tmp_path, capsys):
    data, run = trained
    images = os.fsencode(tmp_path / "new")
    for name in (b"plain.png", b"two\nlines.png", b"tab\there.png", b"\xff\xfe.png"):
        copy_image(data, images + b"/" + name)
    out = tmp_path / "p.csv"
    assert main(["predict", str(run / "model.pt"), "--csv", str(out),
                 str(tmp_path / "new")]) == 0
    lines = capsys.readouterr().out.splitlines()
    # file, class, probability, unlike-the-training-data score and flag: five fields
    assert len(lines) == 4 and all(line.count("\t") == 4 for line in lines), lines
    assert any("two\\nlines.png\t" in line for line in lines)
    assert any("tab\\there.png\t" in line for line in lines)
    assert any("\\xff\\xfe.png\t" in line for line in lines)
    raw = out.read_bytes()
    assert b"\xff\xfe.png" in raw  # the name's own bytes, not a lossy replacement
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8", "surrogateescape"), newline="")))
    files = {os.fsencode(row[0]) for row in rows[1:]}
    assert files == {images + b"/" + n for n in (b"plain.png", b"two\nlines.png",
                                                 b"tab\there.png", b"\xff\xfe.png")}


@posix_only
def test_train_with_non_utf8_names_writes_json_that_reads_back_the_same(tiny_backbone, tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=10, size=32)
    os.rename(os.fsencode(data / "blue"), os.fsencode(data) + b"/bl\xffue")
    os.rename(os.fsencode(data / "red" / "red_000.png"), os.fsencode(data / "red") + b"/\xfe.png")
    config = TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                  epochs=2, batch_size=8)
    result = train_run(config, tmp_path / "run", feature_cache=FeatureCache())
    written = json.loads((tmp_path / "run" / "dataset.json").read_text(encoding="utf-8"))
    assert written["classes"] == result.dataset.class_names == ["bl\udcffue", "red"]
    assert os.fsencode(data) + b"/red/\xfe.png" in [os.fsencode(s.path)
                                                    for s in result.dataset.samples]


def test_unreadable_subfolder_is_named(trained, tmp_path, capsys, monkeypatch):
    data, run = trained
    copy_image(data, os.fsencode(tmp_path / "new" / "a.png"))
    copy_image(data, os.fsencode(tmp_path / "new" / "locked" / "b.png"))
    real = predict_module.list_folder

    def locked(path):
        if path.endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(predict_module, "list_folder", locked)
    assert main(["predict", str(run / "model.pt"), str(tmp_path / "new")]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert f"Skipped {tmp_path / 'new' / 'locked'}: cannot open folder: permission denied" \
        in captured.err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_given_to_predict_is_an_error_line_not_a_hang(trained, tmp_path, capsys):
    data, run = trained
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    copy_image(data, os.fsencode(tmp_path / "ok.png"))

    def on_alarm(*_):
        raise TimeoutError("predict hung on the FIFO")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    try:
        code = main(["predict", str(run / "model.pt"), str(fifo), str(tmp_path / "ok.png")])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert code == 0
    out = capsys.readouterr().out
    assert f"{fifo}\tERROR: not a regular file: a pipe (FIFO)" in out


def test_evaluate_reports_the_images_it_could_not_read(trained, tmp_path, capsys):
    data, run = trained
    val = [s.path for s in scan_dataset(data).split("val")]
    for path in val[:1]:  # the scan accepts it (header and trailer intact); decoding fails
        good = Path(path).read_bytes()
        Path(path).write_bytes(good[:50] + b"\x00" * (len(good) - 62) + good[-12:])
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(run / "model.pt"), "--data", str(data),
                 "--split", "val", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Left out 1 of {len(val)} image(s) that could not be read:" in printed
    assert f"  {val[0]}: damaged image data" in printed
    scores = json.loads(out.read_text())
    assert scores["num_unreadable"] == 1 and scores["unreadable"][0]["file"] == val[0]
    assert scores["num_samples"] == len(val) - 1
