"""`transfer-gui doctor` on a generated dataset with planted problems: a copy leaked from
training into test, the same photo in two classes, a blank picture and a flipped label; each is
reported with its file paths, exit 0; bad input is exit 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image

from synthetic import make_shapes_dataset
from transfer_gui.cli import main


def _planted(tmp_path):
    root = make_shapes_dataset(tmp_path / "shapes", train_per_class=24, test_per_class=6,
                               size=96, seed=3)
    train, test = root / "train", root / "test"
    leaked = train / "red" / "red_000.png"
    shutil.copy(leaked, test / "red" / "leaked_copy.png")  # same bytes, train and test
    two_classes = train / "green" / "green_001.png"
    Image.open(two_classes).resize((80, 80)).save(train / "blue" / "also_blue.jpg", quality=85)
    Image.new("RGB", (96, 96), (128, 128, 128)).save(train / "red" / "blank.png")
    flipped = train / "green" / "green_005.png"
    flipped.rename(train / "blue" / "really_green.png")
    return root, leaked, two_classes


def test_doctor_reports_every_planted_problem_with_paths(tmp_path, capsys):
    root, leaked, two_classes = _planted(tmp_path)
    assert main(["doctor", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    groups = {g["problem"]: {p["path"] for p in g["pictures"]} for g in report["copy_groups"]}
    assert groups["leak"] == {str(leaked), str(root / "test" / "red" / "leaked_copy.png")}
    assert groups["label conflict"] == {str(two_classes), str(root / "train" / "blue" /
                                                              "also_blue.jpg")}
    labels = {f["path"]: f["suggested"] for f in report["label_findings"]}
    assert labels.get(str(root / "train" / "blue" / "really_green.png")) == "green"
    odd = {(o["path"], o["reason"]) for o in report["odd_pictures"]}
    assert (str(root / "train" / "red" / "blank.png"), "almost uniform") in odd
    assert report["counts"]["red"]["test"] == 7


def test_doctor_text_output_and_bad_input(tmp_path, capsys):
    root, leaked, _ = _planted(tmp_path)
    assert main(["doctor", str(root)]) == 0
    out = capsys.readouterr().out
    assert "leak:" in out and str(leaked) in out and "label conflict:" in out
    assert "Likely label errors" in out and "almost uniform" in out
    assert main(["doctor", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["doctor", str(tmp_path / "empty")]) == 2
