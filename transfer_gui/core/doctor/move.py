"""Moving a picture into another class folder: the one change to the user's files the data
doctor makes, and only when the user asks for it. Nothing is ever overwritten: a name that is
taken gets a free one ("name (2).jpg"), and moving back refuses when the old place is taken.
"""

from __future__ import annotations

import os
from dataclasses import replace

from ..data import DatasetScan, Sample
from ..errors import UserError


class MoveError(UserError):
    """A picture cannot be moved; the message says why and what to do."""


def class_folder(scan: DatasetScan, path: str, class_name: str) -> str:
    """The folder of class `class_name` beside the class folder that holds `path` (in the same
    train/val/test folder when the dataset has them)."""
    rel = os.path.relpath(os.path.abspath(path), scan.root).split(os.sep)
    sample = next((s for s in scan.samples if s.path == path), None)
    if sample is None or rel[0] == os.pardir:
        raise MoveError(f"{path} is not a picture of the dataset {scan.root}.", path=path)
    given = scan.class_names[sample.label]
    if rel[0] == given:
        return os.path.join(scan.root, class_name)
    if len(rel) > 2 and rel[1] == given:
        return os.path.join(scan.root, rel[0], class_name)
    raise MoveError(f"{path} is not inside the '{given}' class folder.", path=path)


def free_name(folder: str, name: str) -> str:
    """`folder/name`, or `folder/stem (2).ext`, (3)... when that is taken."""
    stem, ext = os.path.splitext(name)
    candidate, n = os.path.join(folder, name), 2
    while os.path.lexists(candidate):
        candidate, n = os.path.join(folder, f"{stem} ({n}){ext}"), n + 1
    return candidate


def _move_no_overwrite(source: str, target: str) -> None:
    try:
        os.link(source, target)  # fails if target exists: never overwrites
    except FileExistsError:
        raise MoveError(f"{target} appeared while moving: nothing was moved.", path=target)
    except OSError:  # no hard links here (some file systems): check, then rename
        if os.path.lexists(target):
            raise MoveError(f"{target} already exists: nothing was moved.", path=target)
        os.rename(source, target)
        return
    os.unlink(source)


def move_picture(scan: DatasetScan, path: str, class_name: str) -> str:
    """Move `path` into the folder of `class_name` (made if missing); returns its new path."""
    if class_name not in scan.class_names:
        raise MoveError(f"There is no class '{class_name}' in {scan.root}.", path=path)
    folder = class_folder(scan, path, class_name)
    try:
        os.makedirs(folder, exist_ok=True)
        target = free_name(folder, os.path.basename(path))
        _move_no_overwrite(path, target)
    except MoveError:
        raise
    except OSError as error:
        raise MoveError(f"Could not move {path} into {folder}: {error.strerror or error}. "
                        f"Check that the folder is writable.", path=path) from None
    return target


def move_back(current: str, original: str) -> None:
    """Undo `move_picture`: `current` goes back to `original`, if nothing is there now."""
    if os.path.lexists(original):
        raise MoveError(f"{original} exists again, so {current} was not moved back. Move or "
                        f"rename one of them yourself.", path=original)
    try:
        _move_no_overwrite(current, original)
    except MoveError:
        raise
    except OSError as error:
        raise MoveError(f"Could not move {current} back to {original}: "
                        f"{error.strerror or error}.", path=current) from None


def scan_with_move(scan: DatasetScan, old: str, new: str, class_name: str) -> DatasetScan:
    """`scan` as if it had found the picture at `new` in `class_name` (same split), so the app
    follows a move without scanning the folder again."""
    label = scan.class_names.index(class_name)
    samples = sorted((Sample(new, label, s.split) if s.path == old else s for s in scan.samples),
                     key=lambda s: s.path)
    return replace(scan, samples=samples)
