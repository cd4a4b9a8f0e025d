"""`export_run`: write a run's model as TorchScript, ONNX or a bundle, then check it."""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from ..atomic import atomic_write, atomic_write_bytes
from ..errors import UserError
from ..jobs import CancelToken, Progress, ProgressCallback, no_progress
from ..model_file import LoadedModel, load_model
from ..run import Run
from .check import CheckResult, check_export, load_validation_set

FORMATS = ("torchscript", "onnx", "bundle")
ONNX_OPSET = 17


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: `path` (file or bundle folder), `model_path` (the checked file)."""

    format: str
    path: str
    model_path: str
    check: CheckResult
    files: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.check.passed


def _export_module(loaded: LoadedModel) -> torch.nn.Module:
    """A copy of the model to export: eval mode (batch norm uses its statistics), dropout off."""
    model = copy.deepcopy(loaded.model).cpu().eval()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def _example_input(loaded: LoadedModel) -> torch.Tensor:
    size = loaded.preprocessing.input_size
    return torch.zeros(1, 3, size, size)


def write_torchscript(loaded: LoadedModel, path: str | Path) -> Path:
    """Trace the model with an example input of its input size and save it atomically."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notes
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # fixed input size: fine
        traced = torch.jit.trace(_export_module(loaded), _example_input(loaded), check_trace=False)
        return atomic_write(path, lambda f: torch.jit.save(traced, f))


ONNX_INSTALL_HINT = ("ONNX export needs the 'onnx' package, which is not installed here: "
                     "pip install \"transfer-gui[onnx]\" (onnx and onnxruntime), or export "
                     "as TorchScript or a bundle instead.")


def _require_onnx() -> None:
    """A UserError with the install hint when `onnx` cannot be imported. torch's exporter
    would raise its own OnnxExporterError ("Module onnx is not installed!"), a RuntimeError."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UserError(ONNX_INSTALL_HINT) from None


def write_onnx(loaded: LoadedModel, path: str | Path) -> Path:
    """Export with the TorchScript-based exporter: opset 17, dynamic batch, output = logits."""
    _require_onnx()
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # fixed input size: fine
            torch.onnx.export(_export_module(loaded), (_example_input(loaded),), buffer,
                              input_names=["input"], output_names=["output"],
                              opset_version=ONNX_OPSET, dynamo=False,
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    except ModuleNotFoundError as exc:
        raise UserError(f"ONNX export needs the '{exc.name}' package: pip install "
                        f"\"transfer-gui[onnx]\" (onnx and onnxruntime).") from None
    except RuntimeError as exc:
        if "not installed" in str(exc):  # torch.onnx.OnnxExporterError for a missing package
            raise UserError(f"{ONNX_INSTALL_HINT} ({exc})") from None
        raise
    return atomic_write_bytes(path, buffer.getvalue())


def export_run(run_dir: str | Path, fmt: str, out: str | Path, *,
               progress: ProgressCallback = no_progress,
               cancel: Optional[CancelToken] = None) -> ExportResult:
    """Export the model of `run_dir` as `fmt` to `out`, then check the written file.

    Args:
        run_dir: A run folder (config.json, model.pt, ...).
        fmt: "torchscript", "onnx" or "bundle" (a folder, see `bundle`).
        out: The file (or, for "bundle", the folder) to write.

    Raises:
        UserError: Bad format or run folder, or the dataset folder the check needs is gone.
        ExportCheckError: The written export does not reproduce the model (it is left on disk).
    """
    if fmt not in FORMATS:
        raise UserError(f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if fmt == "onnx":
        _require_onnx()  # before reading the validation images
    cancel = cancel or CancelToken()
    run_dir, out = Path(run_dir), Path(out)
    Run.refuse_output_inside(out)
    loaded = load_model(run_dir)
    progress(Progress(0.0, "Reading the validation images for the check", stage="export"))
    valset = load_validation_set(run_dir, loaded, cancel)  # before writing: fail fast
    cancel.raise_if_cancelled()
    progress(Progress(0.3, f"Writing {fmt} export to {out}", stage="export"))
    if fmt == "bundle":
        from .bundle import write_bundle

        files = write_bundle(run_dir, loaded, out, write_torchscript)
        model_path = out / "model.pt"
    else:
        if out.is_dir():
            raise UserError(f"{out} is a folder; give the file to write for {fmt}.", path=str(out))
        model_path = (write_torchscript if fmt == "torchscript" else write_onnx)(loaded, out)
        files = [str(model_path)]
    cancel.raise_if_cancelled()
    check = check_export(loaded, fmt, model_path, valset, progress=progress, cancel=cancel)
    return ExportResult(fmt, str(out), str(model_path), check, [str(f) for f in files])
