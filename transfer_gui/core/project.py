"""The project file (`.tgproj`): a zip of JSON and weights, never of pickled Python objects.

Layout:
- project.json               schema_version, name, dataset location, the list of runs, the
                             user's corrections to the dataset (left-out, relabelled pictures)
- runs/<id>/config.json, dataset.json, metrics.jsonl, evaluation.json, result.json, model.pt

The dataset location is stored relative to the project file's folder when the dataset sits
beside or below it (so both can be moved together), else as an absolute path.

Loading checks everything before it writes anything: member names (no absolute paths, `..`,
backslashes or drive letters), sizes (total and compression ratio), project.json, every JSON
member, and every model.pt, which is loaded weights-only from memory (a pickle that would run code
is refused). Saving writes a temporary file beside the target and renames it over the target, so
a failure midway leaves the previous project file as it was.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .atomic import WriteError, atomic_write, atomic_write_bytes
from .data.corrections import DataCorrections
from .errors import UserError
from .run import CONFIG, DATASET, EVALUATION, METRICS, MODEL, RESULT, RUN_FILES, Run

PROJECT_FORMAT = "transfer_gui.project"
PROJECT_SCHEMA_VERSION = 1
PROJECT_JSON = "project.json"
PROJECT_SUFFIX = ".tgproj"
JSON_FILES = (CONFIG, DATASET, EVALUATION, RESULT)

MAX_TOTAL_BYTES = 2 * 1024 ** 3          # uncompressed, all members together
MAX_COMPRESSION_RATIO = 1000             # uncompressed / compressed, per member
MIN_SIZE_FOR_RATIO_CHECK = 64 * 1024     # tiny members may compress absurdly well, harmlessly
MAX_JSON_BYTES = 64 * 1024 ** 2

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class ProjectError(UserError):
    """A project file cannot be saved or opened; the message says why."""


@dataclass
class Project:
    """A dataset and the runs trained on it.

    Attributes:
        name: The project's name.
        dataset_dir: The dataset folder (absolute once loaded); None when there is none.
        runs: Run folders (after load_project: the extracted copies).
        corrections: The user's corrections to the dataset (left-out and relabelled pictures,
            core/data/corrections.py); the next training uses them.
    """

    name: str
    dataset_dir: Optional[Path] = None
    runs: list[Path] = field(default_factory=list)
    corrections: DataCorrections = field(default_factory=DataCorrections)

    @property
    def dataset_missing(self) -> bool:
        """True when the stored dataset folder does not exist (ask the user where it went)."""
        return self.dataset_dir is not None and not Path(self.dataset_dir).is_dir()

    def relocate_dataset(self, new_dir: str | Path) -> None:
        """Point the project (and its runs that used the old dataset folder) at `new_dir`."""
        new = Path(new_dir).expanduser().resolve()
        if not new.is_dir():
            raise ProjectError(f"Dataset folder not found: {new}", path=str(new))
        old = self.dataset_dir
        self.dataset_dir = new
        if old is None:
            return
        for run in self.runs:
            Run(run).move_dataset(old, new)


# ---------------------------------------------------------------------------------------- save

def _run_ids(runs: list[Path]) -> list[str]:
    """A safe, unique member folder name for each run, from its folder name."""
    ids: list[str] = []
    for run in runs:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(run).resolve().name).lstrip("._-")[:90] or "run"
        candidate, n = base, 2
        while candidate in ids:
            candidate, n = f"{base}-{n}", n + 1
        ids.append(candidate)
    return ids


def _dataset_entry(dataset_dir: Optional[Path], project_path: Path) -> Optional[dict[str, Any]]:
    if dataset_dir is None:
        return None
    dataset = Path(dataset_dir).expanduser().resolve()
    folder = project_path.parent.resolve()
    try:
        return {"path": dataset.relative_to(folder).as_posix() or ".", "relative": True}
    except ValueError:
        return {"path": str(dataset), "relative": False}


def save_project(path: str | Path, project: Project) -> Path:
    """Write `project` to `path` atomically (temporary file beside it, then rename)."""
    target = Path(path).expanduser().absolute()
    runs = [Path(r) for r in project.runs]
    for run in runs:
        if not (run / CONFIG).is_file():
            raise ProjectError(f"{run} is not a run folder: it has no {CONFIG}.", path=str(run))
    ids = _run_ids(runs)
    entries = []
    for run, run_id in zip(runs, ids):
        entries.append({
            "id": run_id, "name": run.resolve().name, "files": Run(run).files_present(),
            "uses_project_dataset": bool(project.dataset_dir is not None
                                         and Run(run).trained_on(project.dataset_dir)),
        })
    manifest = {"format": PROJECT_FORMAT, "schema_version": PROJECT_SCHEMA_VERSION,
                "name": project.name, "dataset": _dataset_entry(project.dataset_dir, target),
                "runs": entries}
    if project.corrections:
        manifest["corrections"] = project.corrections.to_dict()

    def write(f) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(PROJECT_JSON, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            for run, entry in zip(runs, entries):
                for name in entry["files"]:
                    zf.write(run / name, f"runs/{entry['id']}/{name}",
                             compress_type=zipfile.ZIP_STORED if name == MODEL else None)

    try:
        return atomic_write(target, write)
    except WriteError as exc:  # a full disk, read-only folder or missing permission, named
        raise ProjectError(f"Could not save the project: {exc}", path=str(target)) from None
    except OSError as exc:
        raise ProjectError(f"Could not save the project to {target} ({exc}).",
                           path=str(target)) from None


# ---------------------------------------------------------------------------------------- load

def _check_member_name(name: str, path: Path) -> None:
    bad = (not name or name.startswith("/") or "\\" in name or _DRIVE_RE.match(name) is not None
           or any(part in ("..", "") for part in name.rstrip("/").split("/"))
           or "\x00" in name)
    if bad:
        raise ProjectError(f"{path} is not a safe project file: it holds a member named {name!r} "
                           f"that points outside the project (refused; nothing was extracted).",
                           path=str(path))


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """The member's bytes, never more than its declared size."""
    try:
        with zf.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        raise ProjectError(f"{path} is damaged: {info.filename} cannot be read ({exc}).",
                           path=str(path)) from None
    if len(data) > info.file_size:
        raise ProjectError(f"{path} is damaged: {info.filename} is larger than it says.",
                           path=str(path))
    return data


def _parse_json(data: bytes, what: str, path: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProjectError(f"{path} is damaged: {what} is not valid JSON ({exc}).",
                           path=str(path)) from None
    except RecursionError:  # e.g. [[[[...]]]] nested deeper than the parser's stack allows
        raise ProjectError(f"{path} is damaged: {what} is nested too deeply to be a "
                           f"transfer_gui file.", path=str(path)) from None


def _check_weights(data: bytes, what: str, path: Path) -> None:
    import torch

    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ProjectError(f"Refused to open {path}: {what} contains Python objects other than "
                           f"weights, which could run code. Nothing was extracted. ({exc})",
                           path=str(path)) from None
    except Exception as exc:  # torch raises many types for damaged files
        raise ProjectError(f"{path} is damaged: {what} is not a readable model file ({exc}).",
                           path=str(path)) from None


def load_project(path: str | Path, extract_to: str | Path) -> Project:
    """Open a project file; its runs are extracted to `extract_to/<id>/` as run folders.

    Every check runs before anything is written; a ProjectError says what is wrong.
    """
    path = Path(path).expanduser().absolute()
    if not path.is_file():
        raise ProjectError(f"Project file not found: {path}", path=str(path))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise ProjectError(f"{path} is not a transfer_gui project file (not a readable zip: "
                           f"{exc}).", path=str(path)) from None
    with zf:
        try:
            infos = zf.infolist()
        except Exception as exc:
            raise ProjectError(f"{path} is damaged ({exc}).", path=str(path)) from None
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            _check_member_name(info.filename, path)
            if info.filename in members:
                raise ProjectError(f"{path} is damaged: {info.filename} appears twice.",
                                   path=str(path))
            members[info.filename] = info
            total += info.file_size
            if (info.file_size > MIN_SIZE_FOR_RATIO_CHECK
                    and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
                raise ProjectError(f"Refused to open {path}: {info.filename} would expand more "
                                   f"than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?).", path=str(path))
        if total > MAX_TOTAL_BYTES:
            raise ProjectError(f"Refused to open {path}: its contents would take "
                               f"{total / 1024 ** 3:.1f} GB (limit {MAX_TOTAL_BYTES / 1024 ** 3:.0f} GB).",
                               path=str(path))
        if PROJECT_JSON not in members:
            raise ProjectError(f"{path} is not a transfer_gui project file: it has no "
                               f"{PROJECT_JSON}.", path=str(path))
        if members[PROJECT_JSON].file_size > MAX_JSON_BYTES:
            raise ProjectError(f"{path}: {PROJECT_JSON} is too large.", path=str(path))
        manifest = _parse_json(_read_member(zf, members[PROJECT_JSON], path), PROJECT_JSON, path)
        if not isinstance(manifest, dict):
            raise ProjectError(f"{path} is damaged: {PROJECT_JSON} is not a JSON object.",
                               path=str(path))
        version = manifest.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProjectError(f"{path} is damaged: {PROJECT_JSON} has no schema_version.",
                               path=str(path))
        if version > PROJECT_SCHEMA_VERSION:
            raise ProjectError(f"{path} was written by a newer transfer_gui (project schema "
                               f"{version}); update transfer_gui to open it.", path=str(path))
        run_entries = manifest.get("runs", [])
        if not isinstance(run_entries, list):
            raise ProjectError(f"{path} is damaged: 'runs' in {PROJECT_JSON} is not a list.",
                               path=str(path))

        # Read and check every run's files in memory before writing anything.
        runs: list[tuple[str, dict[str, bytes], bool]] = []
        seen: set[str] = set()
        for entry in run_entries:
            run_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(run_id, str) or not _ID_RE.match(run_id) or run_id in seen:
                raise ProjectError(f"{path} is damaged: a run has a missing, unsafe or repeated "
                                   f"id ({run_id!r}).", path=str(path))
            seen.add(run_id)
            files: dict[str, bytes] = {}
            for name in RUN_FILES:
                info = members.get(f"runs/{run_id}/{name}")
                if info is None:
                    continue
                what = f"runs/{run_id}/{name}"
                if name != MODEL and info.file_size > MAX_JSON_BYTES:
                    raise ProjectError(f"{path}: {what} is too large.", path=str(path))
                data = _read_member(zf, info, path)
                if name in JSON_FILES:
                    _parse_json(data, what, path)
                elif name == METRICS:
                    for line in data.decode("utf-8", errors="replace").splitlines():
                        if line.strip():
                            _parse_json(line.encode("utf-8"), what, path)
                else:
                    _check_weights(data, what, path)
                files[name] = data
            if CONFIG not in files:
                raise ProjectError(f"{path} is damaged: run {run_id} has no {CONFIG}.",
                                   path=str(path))
            runs.append((run_id, files, bool(entry.get("uses_project_dataset"))))

    dataset_dir = _dataset_location(manifest.get("dataset"), path)

    # All checks passed: write the run folders.
    root = Path(extract_to).expanduser().absolute()
    run_dirs: list[Path] = []
    for run_id, files, uses_dataset in runs:
        run_dir = root / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            target = run_dir / name
            if name in files:
                data = files[name]
                if name == CONFIG and uses_dataset and dataset_dir is not None:
                    config = json.loads(data.decode("utf-8"))
                    if isinstance(config, dict):
                        config["data_dir"] = str(dataset_dir)
                        data = (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode()
                atomic_write_bytes(target, data)
            elif target.is_file():  # left from an earlier extraction of another version
                os.unlink(target)
        run_dirs.append(run_dir)
    name = manifest.get("name")
    return Project(name=str(name) if name is not None else path.stem, dataset_dir=dataset_dir,
                   runs=run_dirs,
                   corrections=DataCorrections.from_dict(manifest.get("corrections")))


def _dataset_location(entry: Any, path: Path) -> Optional[Path]:
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise ProjectError(f"{path} is damaged: its dataset entry is not valid.", path=str(path))
    stored = Path(entry["path"])
    if entry.get("relative"):
        stored = path.parent / stored
    return Path(os.path.abspath(stored)).resolve() if stored.exists() else Path(os.path.abspath(stored))
