"""The user's corrections to a dataset (core/data/corrections.py): applied to a scan without
touching a file, undone by removing them, recorded in the run's dataset.json and applied again
when the run is rescanned; malformed entries are ignored."""

from __future__ import annotations

import json

from transfer_gui.core.data import scan_dataset
from transfer_gui.core.data.corrections import LEFT_OUT, DataCorrections, skipped_by_user
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.run import Run
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


def _pick(scan, class_name, split="train"):
    label = scan.class_names.index(class_name)
    return next(s.path for s in scan.samples if s.label == label and s.split == split)


def test_corrections_leave_out_and_relabel_without_touching_files(color_dataset):
    scan = scan_dataset(str(color_dataset), val_fraction=0.2, test_fraction=0.0, seed=1)
    copy, wrong = _pick(scan, "red"), _pick(scan, "green")
    before = {p: p.stat().st_mtime_ns for p in color_dataset.rglob("*.png")}
    fixes = (DataCorrections().excluding(scan.root, copy, "copy of red_001.png")
             .relabelling(scan.root, wrong, "blue").relabelling(scan.root, copy, "nope"))
    fixed = fixes.applied(scan)
    assert copy not in {s.path for s in fixed.samples}
    assert [s.reason for s in skipped_by_user(fixed.skipped)] == [f"{LEFT_OUT}: copy of red_001.png"]
    assert next(s for s in fixed.samples if s.path == wrong).label == scan.class_names.index("blue")
    assert len(fixed.samples) == len(scan.samples) - 1
    assert fixed.summary()["corrections"]["excluded"] == {"red/" + copy.rsplit("/", 1)[1]:
                                                          "copy of red_001.png"}
    assert "corrections" not in scan.summary()  # the scan itself is unchanged
    assert {p: p.stat().st_mtime_ns for p in color_dataset.rglob("*.png")} == before
    undone = fixes.undoing(scan.root, copy).undoing(scan.root, wrong)
    assert not undone and undone.applied(scan) is scan


def test_from_dict_keeps_good_entries_and_drops_bad_ones():
    read = DataCorrections.from_dict({"excluded": {"a/1.png": "copy", "/abs.png": "x", "b": 3},
                                      "relabelled": ["not", "a", "dict"]})
    assert read == DataCorrections({"a/1.png": "copy"}, {})
    assert DataCorrections.from_dict(None) == DataCorrections.from_dict("junk") == DataCorrections()


def test_a_run_records_the_corrections_and_is_rescanned_with_them(tiny_backbone, color_dataset,
                                                                  tmp_path):
    scan = scan_dataset(str(color_dataset), val_fraction=0.2, test_fraction=0.0, seed=1)
    fixes = (DataCorrections().excluding(scan.root, _pick(scan, "red"), "leak")
             .relabelling(scan.root, _pick(scan, "green"), "blue"))
    config = TrainConfig.for_mode(str(color_dataset), "feature_extraction", backbone="tiny_test",
                                  epochs=1, val_fraction=0.2, test_fraction=0.0, split_seed=1)
    result = train_run(config, tmp_path / "run", dataset=fixes.applied(scan),
                       feature_cache=FeatureCache())
    recorded = json.loads((result.run_dir / "dataset.json").read_text())["corrections"]
    assert DataCorrections.from_dict(recorded) == fixes
    again = Run.open(result.run_dir).dataset()
    assert again.samples == result.dataset.samples and again.corrections == fixes.to_dict()
    # A scan made with other split settings is rescanned, and the corrections still apply.
    other = TrainConfig.for_mode(str(color_dataset), "feature_extraction", backbone="tiny_test",
                                 epochs=1, val_fraction=0.2, test_fraction=0.0, split_seed=2)
    result = train_run(other, tmp_path / "other", dataset=fixes.applied(scan),
                       feature_cache=FeatureCache())
    assert result.dataset.split_seed == 2 and result.dataset.corrections == fixes.to_dict()


def test_a_project_keeps_its_corrections(tmp_path, color_dataset):
    from transfer_gui.core.project import Project, load_project, save_project

    fixes = DataCorrections({"red/red_00.png": "copy"}, {"green/green_01.png": "blue"})
    saved = save_project(tmp_path / "p.tgproj", Project("p", color_dataset, [], fixes))
    assert load_project(saved, tmp_path / "open").corrections == fixes
    plain = save_project(tmp_path / "q.tgproj", Project("q", color_dataset, []))
    assert not load_project(plain, tmp_path / "open2").corrections
