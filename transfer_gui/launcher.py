"""The `transfer-gui` program: no arguments open the app; a command runs the headless CLI."""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Optional, Sequence


def ensure_streams() -> None:
    """Windowed frozen builds start with sys.stdout/sys.stderr set to None; give them a sink."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    multiprocessing.freeze_support()
    ensure_streams()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        import torch  # noqa: F401  (before PySide6: the other order breaks torch's DLLs on Windows)

        from transfer_gui.ui.app import run_app

        return run_app()
    from transfer_gui.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
