"""The `transfer-gui` program: no arguments open the app; a command runs the headless CLI."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
from typing import NoReturn, Optional, Sequence

EXIT_CANNOT_START = 2  # as the CLI's bad input: the message says what to install or change


def ensure_streams() -> None:
    """Windowed frozen builds start with sys.stdout/sys.stderr set to None; give them a sink."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def is_project_file(args: Sequence[str]) -> bool:
    """One `.tgproj` path: a file manager opened a project with the app (Windows passes "%1")."""
    from transfer_gui.core.project import PROJECT_SUFFIX  # light: no torch, no Qt

    return len(args) == 1 and args[0].lower().endswith(PROJECT_SUFFIX)


def main(argv: Optional[Sequence[str]] = None) -> int:
    multiprocessing.freeze_support()
    ensure_streams()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--self-test":
        return _self_test(args[1:])
    if not args or is_project_file(args):
        return open_app(project=args[0] if args else None)
    from transfer_gui.cli import main as cli_main

    return cli_main(args)


def run() -> NoReturn:
    """The `transfer-gui` program: `main`, then exit with its code.

    A headless command that loaded torch ends with the exit handlers and then os._exit,
    skipping Python's module-by-module teardown: with torch loaded that teardown takes ~1 s
    and touches ~130 MB more memory than the command itself did (measured: `import torch`
    peaks at 647 MB with it, 519 MB without; bench/cam_memory.py). Nothing is lost: every file
    the CLI writes is closed by then, the streams are flushed and atexit/finalize handlers
    (temporary image caches) still run. The app keeps the normal exit (Qt's own teardown).
    """
    args = sys.argv[1:]
    code = main(args)
    headless = bool(args) and args[0] != "--self-test" and not is_project_file(args)
    if headless and "torch" in sys.modules:
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> NoReturn:
    """Run the exit handlers, flush the streams and end the process without module teardown."""
    getattr(atexit, "_run_exitfuncs", lambda: None)()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(code)


def open_app(project: Optional[str] = None) -> int:
    """The desktop app; 2 with what to install when Qt cannot open a window here (Linux)."""
    from transfer_gui import qt_system_libraries

    problem = qt_system_libraries.qt_start_problem()
    if problem is None:
        try:
            from transfer_gui.ui.app import run_app
        except ImportError as error:  # a library QtGui links, missing from the system (libEGL)
            problem = qt_system_libraries.import_error_hint(error)
            if problem is None:
                raise
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_CANNOT_START
    return run_app(project=project)


def _self_test(args: Sequence[str]) -> int:
    """`--self-test [--report PATH] [--timeout SECONDS]` (see transfer_gui.self_test)."""
    import argparse

    parser = argparse.ArgumentParser(prog="transfer-gui --self-test", description=(
        "Open the main window, train one epoch and compute one Grad-CAM on a generated dataset; "
        "exit 0 when every step passed."))
    parser.add_argument("--report", help="write the JSON report here (windowed builds: required "
                        "to see anything, they have no console)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the training may take")
    options = parser.parse_args(list(args))
    from transfer_gui.self_test import run_self_test

    return run_self_test(options.report, timeout_s=options.timeout)


if __name__ == "__main__":
    run()
