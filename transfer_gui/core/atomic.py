"""Atomic file writes: write a temporary file beside the target, then rename it over the target.

A crash or a full disk midway leaves the previous file (or no file), never a half-written one,
and a full disk, a read-only folder or a missing permission becomes a WriteError (a UserError)
that names the cause and the file, not a traceback or torch's "unexpected pos".
The file gets the permissions any new file gets (0666 less the umask), not the private 0600 of a
temporary file: a colleague or a backup job can read what the user saved.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, IO, Optional

from .errors import UserError


_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:  # elsewhere: set and restore it (other threads may not create files now)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permission bits a newly created file gets: 0666 less the umask."""
    return 0o666 & ~current_umask()


class WriteError(UserError, OSError):
    """A file could not be written for a reason the user can fix: a full disk, a read-only
    folder, no permission. Also an OSError (with `errno` and `strerror`), so code that handles
    OSErrors of a write keeps doing so; str() is the whole message."""

    def __init__(self, message: str, path: str, errno_: int) -> None:
        super().__init__(message, path=path)
        self.errno, self.strerror, self.filename = errno_, os.strerror(errno_), path

    def __str__(self) -> str:
        return str(self.args[0])


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NO_PERMISSION = {errno.EACCES, errno.EPERM}
_NOT_A_FOLDER = {errno.ENOTDIR, errno.EEXIST}  # a part of the folder path is a file


def explain_write_error(exc: BaseException, path: str | os.PathLike) -> Optional[WriteError]:
    """A WriteError naming the cause of `exc` when it (or an exception it arose from: torch
    wraps the OSError of a full disk in a RuntimeError) is a full disk, a read-only file system
    or a missing permission; None for anything else."""
    target = Path(path)
    seen: set[int] = set()
    cause: Optional[BaseException] = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, WriteError):
            return cause
        if isinstance(cause, OSError) and cause.errno is not None:
            if cause.errno in _DISK_FULL:
                return WriteError(f"No space left on the disk of {target}: free some space, or "
                                  f"choose a folder on another disk, and try again. Nothing "
                                  f"was overwritten.", str(target), cause.errno)
            if cause.errno == errno.EROFS:
                return WriteError(f"{target.parent} is read-only, so {target.name} cannot be "
                                  f"written there: choose another folder.", str(target),
                                  cause.errno)
            if cause.errno in _NOT_A_FOLDER:
                return WriteError(f"A part of the folder {target.parent} is a file, not a "
                                  f"folder, so {target.name} cannot be written there: choose "
                                  f"another place.", str(target), cause.errno)
            if cause.errno in _NO_PERMISSION:
                return WriteError(f"No permission to write {target}: choose another folder, or "
                                  f"ask for write access to {target.parent}.", str(target),
                                  cause.errno)
        cause = cause.__cause__ or cause.__context__
    return None


def check_writable_file(path: str | os.PathLike, what: str = "") -> Path:
    """Check, before any work, that the file `path` can be written (it is not a folder, no part
    of its folder is a file, the nearest existing folder is writable); returns it.

    Args:
        what: How the user named it (e.g. "--csv"), put before the path in the message.

    Raises:
        UserError: Saying which of these it is and what to do.
    """
    target = Path(path)
    label = f"{what} {target}" if what else str(target)
    if target.is_dir():
        raise UserError(f"{label} is a folder; give the name of a file to write (inside it, "
                        f"for example).", path=str(target))
    _check_writable_place(target.parent, target)
    return target


def check_writable_folder(path: str | os.PathLike, what: str = "") -> Path:
    """Check, before any work, that the folder `path` exists or can be created and written to."""
    target = Path(path)
    label = f"{what} {target}" if what else str(target)
    if target.exists() and not target.is_dir():
        raise UserError(f"{label} is a file, not a folder; give a folder to write into.",
                        path=str(target))
    _check_writable_place(target, target)
    return target


def _check_writable_place(folder: Path, target: Path) -> None:
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{existing} is a file, so {target} cannot be created there: choose "
                        f"another place.", path=str(target))
    if not os.access(existing, os.W_OK | os.X_OK):
        if hasattr(os, "statvfs") and os.statvfs(existing).f_flag & os.ST_RDONLY:
            raise WriteError(f"{existing} is read-only, so {target} cannot be written: choose "
                             f"another folder.", str(target), errno.EROFS)
        raise WriteError(f"No permission to write in {existing}, so {target} cannot be written: "
                         f"choose another folder, or ask for write access.", str(target),
                         errno.EACCES)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write(f)` on a temporary binary file, fsync it, and rename it to `path`.

    Raises:
        WriteError: The disk is full, the folder read-only or not writable (the target is
            unchanged, no temporary file is left).
    """
    target = Path(path)
    try:
        return _write_and_replace(target, write)
    except Exception as exc:
        explained = explain_write_error(exc, target)
        if explained is None or explained is exc:
            raise
        raise explained from exc


def _write_and_replace(target: Path, write: Callable[[IO[bytes]], None]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp makes it 0600 (Windows has no such bits)
                os.fchmod(f.fileno(), new_file_mode())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as JSON. JSON has no NaN or infinity: such a number (a metric that is
    undefined, e.g. over no images) is written as null, so every file stays valid JSON. A file
    name that is not valid UTF-8 (its bytes kept as lone surrogates) is written as a \\udcXX
    escape, which json.load turns back into the same name."""
    text = json.dumps(finite_json(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = "".join(f"\\u{ord(c):04x}" if "\ud800" <= c <= "\udfff" else c
                       for c in text).encode("utf-8")
    return atomic_write_bytes(path, data)


def finite_json(obj: Any) -> Any:
    """`obj` with every NaN or infinite float (numpy's too) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if type(obj).__module__ == "numpy" and getattr(obj, "shape", None) == ():  # numpy scalars
        return finite_json(obj.item())
    return obj


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    import torch

    return atomic_write(path, lambda f: torch.save(obj, f))
