"""A training job for another machine (issue 17): `train --write-job` writes the settings, a
manifest of the dataset's files (relative paths, SHA-256, class, split) and the commands;
`train --job` on a copy of the dataset trains exactly those settings, and refuses a copy that
differs, naming the first difference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synthetic import make_color_dataset
from transfer_gui.cli import main
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.checksum import file_digest
from transfer_gui.core.job import JOB_FILE, read_job
from transfer_gui.core.run import Run


@pytest.fixture
def job(tiny_backbone, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "here" / "data", per_class=8)
    code = main(["train", "--data", str(data), "--mode", "fine_tuning", "--backbone", "tiny_test",
                 "--epochs", "2", "--batch-size", "8", "--probe-l2", "0.001",
                 "--write-job", str(tmp_path / "job")])
    assert code == 0, capsys.readouterr().err
    return data, tmp_path / "job", capsys.readouterr().out


def there(data, tmp_path):
    """A copy of the dataset on "another machine" (another path)."""
    return shutil.copytree(data, tmp_path / "there" / "data")


def test_a_job_holds_the_settings_the_manifest_and_the_commands(job, tmp_path):
    data, folder, printed = job
    written = read_job(folder)
    scan = scan_dataset(data)
    assert len(written.files) == len(scan.samples) == 24
    first = written.files[0]
    assert not first.path.startswith("/") and (data / first.path).is_file()
    assert first.sha256 == file_digest(data / first.path)
    assert {(e.path, e.class_name, e.split) for e in written.files} == {
        (Path(s.path).relative_to(data).as_posix(),
         scan.class_names[s.label], s.split) for s in scan.samples}
    c = written.config
    assert (c.mode, c.backbone, c.epochs, c.batch_size) == ("fine_tuning", "tiny_test", 2, 8)
    assert f"transfer-gui train --job {folder}" in printed
    assert f"transfer-gui train --job {folder}" in (folder / "README.txt").read_text()
    assert not list((tmp_path / "here").glob("*run*"))  # nothing was trained
    # a folder that holds a job already is refused
    assert main(["train", "--data", str(data), "--write-job", str(folder)]) == 2


def test_the_job_trains_its_settings_on_an_identical_copy(job, tmp_path, capsys):
    data, folder, _ = job
    copy = there(data, tmp_path)
    run_dir = tmp_path / "there" / "run"
    assert main(["train", "--job", str(folder), "--data", str(copy), "--out", str(run_dir)]) == 0
    config = Run.open(run_dir).config_dict()
    assert config["mode"] == "fine_tuning" and config["epochs"] == 2
    assert config["data_dir"] == str(copy) and config["job"]["images"] == 24
    assert "checking them against the job's manifest" in capsys.readouterr().out
    # the job's own settings only
    assert main(["train", "--job", str(folder), "--data", str(copy), "--out",
                 str(tmp_path / "r2"), "--epochs", "5"]) == 2
    assert "settings are fixed" in capsys.readouterr().err


@pytest.mark.parametrize("change, says", [
    ("modify", "has other contents"), ("remove", "is missing"), ("add", "is not in the job"),
    ("move", "is missing")])
def test_a_copy_that_differs_is_refused_naming_the_file(job, tmp_path, capsys, change, says):
    data, folder, _ = job
    copy = there(data, tmp_path)
    victim = sorted((copy / "red").iterdir())[0]
    if change == "modify":
        raw = bytearray(victim.read_bytes())
        raw[-3] ^= 0xFF  # a few bytes near the end: still a readable picture
        victim.write_bytes(bytes(raw))
    elif change == "remove":
        victim.unlink()
    elif change == "add":
        shutil.copy(victim, copy / "red" / "zz_extra.png")
    else:  # moved into another class
        shutil.move(victim, copy / "blue" / victim.name)
    run_dir = tmp_path / "there" / "run"
    assert main(["train", "--job", str(folder), "--data", str(copy), "--out", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert says in err and "is not the job's" in err and ("red/" in err)
    assert not run_dir.exists()


def test_the_job_gives_the_torchrun_command_too(job, tmp_path, capsys, monkeypatch):
    data, folder, printed = job
    several = f"torchrun --nproc_per_node GPUS -m transfer_gui train --job {folder}"
    assert several in printed and several in (folder / "README.txt").read_text()
    # WORLD_SIZE without the rest of what torchrun sets: said plainly, nothing written
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    assert main(["train", "--job", str(folder), "--data", str(data), "--out",
                 str(tmp_path / "r")]) == 2
    assert "not started by torchrun" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_a_damaged_or_missing_job_is_refused(tmp_path, capsys, tiny_backbone):
    assert main(["train", "--job", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "is not a job folder" in capsys.readouterr().err
    (tmp_path / JOB_FILE).write_text(json.dumps({"schema_version": 1, "config": {}}))
    assert main(["train", "--job", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "damaged or was edited by hand" in capsys.readouterr().err
