"""The project file: save/open round trip, dataset location, and refusal of unsafe files."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from transfer_gui.core import project as project_module
from transfer_gui.core.project import Project, ProjectError, load_project, save_project

RUN_FILES = ("config.json", "dataset.json", "metrics.jsonl", "evaluation.json", "result.json",
             "model.pt")


def train_tiny(data: Path, run: Path) -> Path:
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    train_run(TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test", epochs=3,
                                   batch_size=8), run, feature_cache=FeatureCache())
    return run


def fake_run(folder: Path, data_dir: Path | str = "/nowhere") -> Path:
    """A run folder with small hand-written files (and a weights-only model.pt)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"schema_version": 1, "data_dir": str(data_dir),
                                                    "backbone": "tiny_test", "epochs": 2}))
    (folder / "metrics.jsonl").write_text('{"epoch": 1, "val_acc": 0.5}\n'
                                          '{"epoch": 2, "val_acc": 0.75}\n')
    (folder / "result.json").write_text('{"best_val_acc": 0.75}')
    torch.save({"format": "x", "state_dict": {"w": torch.arange(1000.0)}}, folder / "model.pt")
    return folder


def manifest(runs=(), **extra) -> str:
    return json.dumps({"format": "transfer_gui.project", "schema_version": 1, "name": "p",
                       "dataset": None, "runs": [{"id": r} for r in runs], **extra})


def make_zip(path: Path, members: dict[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*")] if folder.exists() else []


def test_round_trip_real_run(tiny_backbone, color_dataset, tmp_path):
    from transfer_gui.core.model_file import load_model

    run = train_tiny(color_dataset, tmp_path / "runs" / "first run")
    target = tmp_path / "my.tgproj"
    save_project(target, Project("Colours", color_dataset, [run]))
    opened = load_project(target, tmp_path / "opened")

    assert opened.name == "Colours"
    assert opened.dataset_dir == color_dataset.resolve() and not opened.dataset_missing
    (extracted,) = opened.runs
    assert extracted.parent == (tmp_path / "opened").absolute()
    for name in RUN_FILES:
        assert (extracted / name).read_bytes() == (run / name).read_bytes(), name
    original, loaded = load_model(run), load_model(extracted)
    assert loaded.class_names == original.class_names
    for key, value in original.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    # Opening again into the same folder works (files are replaced).
    again = load_project(target, tmp_path / "opened")
    assert (again.runs[0] / "metrics.jsonl").read_bytes() == (run / "metrics.jsonl").read_bytes()


def test_relative_dataset_moves_with_project(tmp_path):
    home = tmp_path / "home"
    data = home / "data" / "colors"
    data.mkdir(parents=True)
    run = fake_run(tmp_path / "elsewhere" / "run1", data_dir=data)
    save_project(home / "p.tgproj", Project("p", data, [run]))
    with zipfile.ZipFile(home / "p.tgproj") as zf:
        stored = json.loads(zf.read("project.json"))["dataset"]
    assert stored == {"path": "data/colors", "relative": True}

    moved = tmp_path / "other_parent" / "moved_home"
    moved.parent.mkdir()
    shutil.move(str(home), str(moved))
    opened = load_project(moved / "p.tgproj", tmp_path / "x")
    assert opened.dataset_dir == (moved / "data" / "colors").resolve()
    assert not opened.dataset_missing
    # The run used the project's dataset, so its extracted config follows the new location.
    config = json.loads((opened.runs[0] / "config.json").read_text())
    assert Path(config["data_dir"]) == opened.dataset_dir


def test_absolute_dataset_missing_and_relocate(tmp_path):
    data = tmp_path / "datasets" / "colors"
    data.mkdir(parents=True)
    run = fake_run(tmp_path / "runs" / "r", data_dir=data)
    (tmp_path / "projects").mkdir()
    target = tmp_path / "projects" / "p.tgproj"
    save_project(target, Project("p", data, [run]))
    with zipfile.ZipFile(target) as zf:
        assert json.loads(zf.read("project.json"))["dataset"] == {"path": str(data.resolve()),
                                                                  "relative": False}
    new_place = tmp_path / "new" / "colors"
    new_place.parent.mkdir()
    shutil.move(str(data), str(new_place))

    opened = load_project(target, tmp_path / "x")
    assert opened.dataset_missing and opened.dataset_dir == data.resolve()
    with pytest.raises(ProjectError, match="not found"):
        opened.relocate_dataset(tmp_path / "nope")
    opened.relocate_dataset(new_place)
    assert not opened.dataset_missing and opened.dataset_dir == new_place.resolve()
    assert Path(json.loads((opened.runs[0] / "config.json").read_text())["data_dir"]) == \
        new_place.resolve()


@pytest.mark.parametrize("bad_name", ["../evil.json", "/abs.json", "runs\\..\\x", "C:/x.json",
                                      "runs/r/../../evil.json"])
def test_zip_slip_refused_before_extracting(tmp_path, bad_name):
    out = tmp_path / "out"
    target = make_zip(tmp_path / "p.tgproj", {
        "project.json": manifest(["r"]), "runs/r/config.json": "{}", bad_name: "{}"})
    with zipfile.ZipFile(target) as zf:
        assert bad_name in zf.namelist()
    before = set(files_under(tmp_path))
    with pytest.raises(ProjectError, match="outside the project"):
        load_project(target, out)
    assert set(files_under(tmp_path)) == before
    assert not out.exists() and not (tmp_path / "evil.json").exists()


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_model_refused(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"state_dict": {}, "payload": Evil(marker)}, buffer)
    assert not marker.exists()
    target = make_zip(tmp_path / "p.tgproj", {
        "project.json": manifest(["r"]), "runs/r/config.json": "{}",
        "runs/r/metrics.jsonl": "", "runs/r/model.pt": buffer.getvalue()})
    out = tmp_path / "out"
    with pytest.raises(ProjectError, match="Refused.*could run code"):
        load_project(target, out)
    assert not marker.exists()
    assert not out.exists()


def test_corrupt_and_incomplete_files_refused(tmp_path):
    junk = tmp_path / "junk.tgproj"
    junk.write_bytes(b"this is not a zip at all" * 50)
    with pytest.raises(ProjectError, match="not a transfer_gui project file"):
        load_project(junk, tmp_path / "o")

    good = tmp_path / "good.tgproj"
    save_project(good, Project("p", None, [fake_run(tmp_path / "r")]))
    truncated = tmp_path / "truncated.tgproj"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ProjectError):
        load_project(truncated, tmp_path / "o")

    flipped = bytearray(good.read_bytes())
    start = flipped.find(b"runs/r/model.pt") + 100  # inside the stored model.pt bytes
    flipped[start:start + 200] = bytes(200)
    (tmp_path / "flipped.tgproj").write_bytes(bytes(flipped))
    with pytest.raises(ProjectError, match="damaged"):
        load_project(tmp_path / "flipped.tgproj", tmp_path / "o")

    with pytest.raises(ProjectError, match="no project.json"):
        load_project(make_zip(tmp_path / "a.tgproj", {"runs/r/config.json": "{}"}), tmp_path / "o")
    with pytest.raises(ProjectError, match="newer transfer_gui"):
        load_project(make_zip(tmp_path / "b.tgproj", {
            "project.json": json.dumps({"schema_version": 99, "runs": []})}), tmp_path / "o")
    with pytest.raises(ProjectError, match="not valid JSON"):
        load_project(make_zip(tmp_path / "c.tgproj", {"project.json": "{oops"}), tmp_path / "o")
    with pytest.raises(ProjectError, match="unsafe"):
        load_project(make_zip(tmp_path / "d.tgproj", {
            "project.json": manifest([".."])}), tmp_path / "o")
    with pytest.raises(ProjectError, match="not found"):
        load_project(tmp_path / "missing.tgproj", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_size_limits(tmp_path, monkeypatch):
    bomb = make_zip(tmp_path / "bomb.tgproj", {
        "project.json": manifest(), "runs/r/model.pt": bytes(5_000_000)},
        compression=zipfile.ZIP_BZIP2)
    with pytest.raises(ProjectError, match="zip bomb"):
        load_project(bomb, tmp_path / "o")

    big = make_zip(tmp_path / "big.tgproj", {"project.json": manifest(), "x.bin": b"1" * 5000})
    monkeypatch.setattr(project_module, "MAX_TOTAL_BYTES", 4000)
    with pytest.raises(ProjectError, match="limit"):
        load_project(big, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_failed_save_leaves_previous_file(tmp_path, monkeypatch):
    runs = [fake_run(tmp_path / "runs" / n) for n in ("a", "b")]
    target = tmp_path / "projects" / "p.tgproj"
    save_project(target, Project("first", None, runs[:1]))
    before = target.read_bytes()

    calls = {"n": 0}
    original = zipfile.ZipFile.write

    def failing_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", failing_write)
    with pytest.raises(ProjectError, match="Could not save"):
        save_project(target, Project("second", None, runs))
    assert calls["n"] == 4  # some members were written before the failure
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["p.tgproj"]

    def crash(self, *args, **kwargs):
        raise RuntimeError("crash")

    monkeypatch.setattr(zipfile.ZipFile, "write", crash)
    with pytest.raises(RuntimeError):
        save_project(target, Project("third", None, runs))
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["p.tgproj"]

    monkeypatch.setattr(zipfile.ZipFile, "write", original)
    save_project(target, Project("second", None, runs))
    assert load_project(target, tmp_path / "o").name == "second"


def test_duplicate_run_names_and_missing_config(tmp_path):
    runs = [fake_run(tmp_path / "x" / "run"), fake_run(tmp_path / "y" / "run")]
    save_project(tmp_path / "p.tgproj", Project("p", None, runs))
    opened = load_project(tmp_path / "p.tgproj", tmp_path / "o")
    assert [p.name for p in opened.runs] == ["run", "run-2"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match="not a run folder"):
        save_project(tmp_path / "q.tgproj", Project("p", None, [tmp_path / "empty"]))
    assert not (tmp_path / "q.tgproj").exists()
