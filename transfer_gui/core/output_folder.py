"""Where the app puts what it makes for the user (runs, saved overlays, predictions, exports).

A visible folder the user can find: "Transfer GUI" under Documents by default, or a folder the
user chose (the desktop app sets it from its settings with `set_output_folder`). Never inside a
dataset: a file saved there would be scanned, and trained on, next time (`is_inside`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

APP_FOLDER_NAME = "Transfer GUI"

_chosen: Optional[Path] = None


def documents_folder() -> Path:
    """The user's Documents folder (XDG_DOCUMENTS_DIR on Linux when set), else the home folder.

    The desktop app passes Qt's own answer instead where it has one.
    """
    home = Path.home()
    xdg = os.environ.get("XDG_DOCUMENTS_DIR") or _xdg_user_dir("DOCUMENTS", home)
    if xdg and Path(xdg).is_absolute() and Path(xdg) != home:
        return Path(xdg)
    documents = home / "Documents"
    return documents if documents.is_dir() or not home.is_dir() else home


def _xdg_user_dir(name: str, home: Path) -> Optional[str]:
    """XDG_<name>_DIR from ~/.config/user-dirs.dirs (what `xdg-user-dir` reads), if there."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "user-dirs.dirs"
    try:
        lines = config.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError):
        return None
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == f"XDG_{name}_DIR":
            return value.strip().strip('"').replace("$HOME", str(home))
    return None


def default_output_folder(documents: Optional[str | os.PathLike] = None) -> Path:
    """The folder outputs go to: the one the user chose, else "Transfer GUI" under Documents
    (`documents`, or `documents_folder()`). Not created here."""
    if _chosen is not None:
        return _chosen
    return Path(documents or documents_folder()) / APP_FOLDER_NAME


def set_output_folder(folder: Optional[str | os.PathLike]) -> None:
    """Use `folder` for outputs from now on in this process (None or "": the default)."""
    global _chosen
    _chosen = Path(folder).expanduser() if folder else None


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when `path` is `folder` or lies anywhere below it (links resolved)."""
    try:
        Path(path).expanduser().resolve().relative_to(Path(folder).expanduser().resolve())
    except ValueError:
        return False
    return True
