"""A full disk, a read-only folder or no permission: a WriteError naming the cause and the file,
the previous file kept, no temporary file left; JSON files never hold NaN."""

from __future__ import annotations

import errno
import io
import json
import os

import pytest
import torch

from transfer_gui.core import atomic
from transfer_gui.core.atomic import WriteError, atomic_write, atomic_write_json
from transfer_gui.core.errors import UserError


class FullDisk(io.FileIO):
    """A file whose writes fail with ENOSPC once `room` bytes are written."""

    room = 100

    def write(self, data):
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.fixture
def full_disk(monkeypatch):
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        if mode == "wb":  # the atomic writers' binary files, not text files opened elsewhere
            return FullDisk(fd, "w")
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)


def test_full_disk_names_the_cause_and_keeps_the_previous_file(tmp_path, full_disk):
    target = tmp_path / "result.json"
    target.write_text('{"good": true}')
    with pytest.raises(WriteError, match="No space left") as caught:
        atomic_write_json(target, {"data": "x" * 1000})
    assert isinstance(caught.value, UserError) and str(target) in str(caught.value)
    assert isinstance(caught.value, OSError)  # handlers of a write's OSError still catch it
    assert caught.value.errno == errno.ENOSPC
    assert json.loads(target.read_text()) == {"good": True}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_model_save_on_a_full_disk_is_not_a_cryptic_torch_error(tmp_path, full_disk,
                                                                 tiny_backbone):
    from transfer_gui.core.model_file import save_model
    from transfer_gui.core.models import make_model

    model = make_model(tiny_backbone, 2, pretrained=False)
    with pytest.raises(WriteError, match="No space left") as caught:
        save_model(tmp_path / "model.pt", model, tiny_backbone, ["a", "b"], "fine_tuning", 0.0)
    assert "unexpected pos" not in str(caught.value) and "model.pt" in str(caught.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("code, words", [(errno.EROFS, "is read-only"),
                                         (errno.EACCES, "No permission")])
def test_read_only_or_forbidden_folder(tmp_path, monkeypatch, code, words):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(WriteError, match=words) as caught:
        atomic_write(tmp_path / "x.bin", lambda f: f.write(b"1"))
    assert str(tmp_path) in str(caught.value)


def test_other_errors_pass_through(tmp_path):
    def broken(f):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        atomic_write(tmp_path / "x.bin", broken)
    assert not list(tmp_path.iterdir())


def test_json_never_holds_nan(tmp_path):
    import numpy as np

    path = atomic_write_json(tmp_path / "m.json", {"loss": float("nan"), "acc": [np.float32("inf"),
                                                   0.5, np.int64(3)], "name": "x"})

    def no_constants(name):
        raise AssertionError(f"{name} written into JSON")

    assert json.loads(path.read_text(), parse_constant=no_constants) == {
        "loss": None, "acc": [None, 0.5, 3], "name": "x"}


def test_project_save_on_a_full_disk_says_so(tmp_path, full_disk):
    from transfer_gui.core.project import Project, ProjectError, save_project

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"data_dir": "/nowhere", "pad": "' + "x" * 500 + '"}')
    with pytest.raises(ProjectError, match="No space left") as caught:
        save_project(tmp_path / "p.tgproj", Project("p", None, [run]))
    assert str(tmp_path / "p.tgproj") in str(caught.value)


def test_cam_files_on_a_full_disk_leave_no_truncated_file(tmp_path, full_disk):
    from types import SimpleNamespace

    import numpy as np

    from transfer_gui.core.cam import save_explanation

    rng = np.random.default_rng(0)
    explanation = SimpleNamespace(image=rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
                                  map_original=rng.random((64, 64)))
    with pytest.raises(WriteError, match="No space left"):
        save_explanation(explanation, tmp_path / "cams", "x", raw=True)
    assert list((tmp_path / "cams").iterdir()) == []


def test_training_on_a_full_disk_names_the_cause(tiny_backbone, color_dataset, tmp_path,
                                                 full_disk, monkeypatch, capsys):
    from transfer_gui.cli import main

    monkeypatch.setattr(FullDisk, "room", 3000)  # config.json fits, model.pt does not
    code = main(["train", "--data", str(color_dataset), "--out", str(tmp_path / "run"),
                 "--backbone", "tiny_test", "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "No space left" in err and "model.pt" in err
    assert "unexpected pos" not in err and "Traceback" not in err
    # The message names the run folder asked for, not the staging folder beside it, and the
    # failed run leaves nothing behind.
    assert str(tmp_path / "run" / "model.pt") in err and ".partial" not in err
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run*"))
