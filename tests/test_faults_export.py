"""Export faults: no `onnx` package gives the install hint (exit 2); a bundle that cannot be
written whole leaves no empty or half folder, and an earlier bundle as it was."""

from __future__ import annotations

import errno
import sys

import pytest
import torch

from transfer_gui.cli import main
from transfer_gui.core.atomic import WriteError
from transfer_gui.core.errors import UserError
from transfer_gui.core.export import bundle as bundle_module
from transfer_gui.core.export import run as export_module


@pytest.fixture
def loaded(tiny_backbone, tmp_path):
    from transfer_gui.core.model_file import load_model, save_model
    from transfer_gui.core.models import make_model

    save_model(tmp_path / "run" / "model.pt", make_model(tiny_backbone, 2, pretrained=False),
               tiny_backbone, ["cat", "dog"], "feature_extraction", 0.2)
    return load_model(tmp_path / "run")


def test_onnx_export_without_onnx_gives_the_install_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` fails as if not installed
    code = main(["export", str(tmp_path / "run"), "--format", "onnx", "--out",
                 str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "pip install" in err and "onnx" in err and "unexpected" not in err
    assert not (tmp_path / "m.onnx").exists()


def test_torch_exporter_error_for_a_missing_package_gives_the_hint(loaded, tmp_path, monkeypatch):
    def exporter_error(*args, **kwargs):
        raise torch.onnx.OnnxExporterError("Module onnx is not installed!")

    monkeypatch.setattr(export_module, "_require_onnx", lambda: None)
    monkeypatch.setattr(torch.onnx, "export", exporter_error)
    with pytest.raises(UserError, match="pip install"):
        export_module.write_onnx(loaded, tmp_path / "m.onnx")


def _full_disk_at_readme(monkeypatch):
    real = bundle_module.atomic_write_text

    def write_text(path, text):
        if path.name == "README.md":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(bundle_module, "atomic_write_text", write_text)


def test_bundle_on_a_full_disk_leaves_no_folder(loaded, tmp_path, monkeypatch):
    _full_disk_at_readme(monkeypatch)
    out = tmp_path / "exports" / "bundle"
    with pytest.raises(WriteError, match="No space left"):
        bundle_module.write_bundle(tmp_path / "run", loaded, out, export_module.write_torchscript)
    assert not out.exists()
    assert list((tmp_path / "exports").iterdir()) == []  # no hidden staging folder either


def test_bundle_on_a_full_disk_keeps_the_earlier_bundle(loaded, tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    bundle_module.write_bundle(tmp_path / "run", loaded, out, export_module.write_torchscript)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"model.pt", "labels.json", "README.md", "predict.py"} <= set(before)
    _full_disk_at_readme(monkeypatch)
    with pytest.raises(WriteError):
        bundle_module.write_bundle(tmp_path / "run", loaded, out, export_module.write_torchscript)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "run"]
