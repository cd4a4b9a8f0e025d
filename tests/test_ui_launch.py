"""`transfer-gui` with no arguments opens the main window, safe without stdio.

Qt first, so the start-up screen shows while torch loads; on Windows torch first (its DLLs).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LAUNCH = r"""
import importlib.util
import sys

order = []
real_stdout = sys.stdout


def fake_exec(self):  # instead of the event loop: report what is on screen and quit
    from transfer_gui.ui.main_window import MainWindow
    shown = [w for w in self.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    print("windows", len(shown), "order", ",".join(order), "stdout_ok", sys.stdout is not None,
          file=real_stdout)
    for w in shown:
        w.close()
    return 0


class RecordImports:
    # Records which of torch / PySide6 is imported first; patches QApplication.exec on load.

    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "PySide6") and name not in order:
            order.append(name)
        if name != "PySide6.QtWidgets":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        real = spec.loader

        class PatchingLoader:
            def create_module(self, spec):
                return real.create_module(spec)

            def exec_module(self, module):
                real.exec_module(module)
                module.QApplication.exec = fake_exec

        spec.loader = PatchingLoader()
        return spec


sys.meta_path.insert(0, RecordImports())
sys.stdout = sys.stderr = None  # as in a windowed frozen build
from transfer_gui import launcher

sys.exit(launcher.main([]))
"""


def test_no_arguments_opens_the_main_window(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-c", LAUNCH], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    order = "torch,PySide6" if sys.platform == "win32" else "PySide6,torch"
    assert f"windows 1 order {order} stdout_ok True" in proc.stdout


def test_a_command_runs_the_cli_without_qt(tmp_path):
    code = ("import sys; from transfer_gui import launcher; rc = launcher.main(['backbones']);"
            "bad = [m for m in sys.modules if m.startswith('PySide6')]; print('qt', bad);"
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TORCH_HOME": str(tmp_path)})
    assert proc.returncode == 0 and "qt []" in proc.stdout and "efficientnet_lite0" in proc.stdout


def test_a_project_file_argument_opens_the_app_with_it(monkeypatch):
    from transfer_gui import launcher
    from transfer_gui.ui import app

    opened = []
    monkeypatch.setattr(app, "run_app", lambda project=None: opened.append(project) or 0)
    assert launcher.main(["C:\\Users\\me\\Cells.TGPROJ"]) == 0
    assert opened == ["C:\\Users\\me\\Cells.TGPROJ"]
    assert not launcher.is_project_file(["cells.tgproj", "--x"])
    assert not launcher.is_project_file(["train"])


def test_the_window_opens_a_project_given_at_start_and_by_a_file_open_event(qtbot, tmp_path,
                                                                           settings):
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from transfer_gui.core.project import Project, save_project
    from transfer_gui.ui.app import open_main_window

    first = save_project(tmp_path / "first.tgproj", Project("first"))
    second = save_project(tmp_path / "second.tgproj", Project("second"))
    window = open_main_window(str(first), settings)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.projects.path == first, timeout=5000)
    QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(second)))  # macOS Finder
    assert window.projects.path == second


_RUN_WITH_MARKER = """
import atexit, sys
from pathlib import Path
from transfer_gui import launcher
marker = Path(sys.argv[1])
atexit.register(lambda: marker.write_text("exit handlers ran"))
sys.argv = ["transfer-gui", *sys.argv[2:]]
launcher.run()
"""


@pytest.mark.parametrize("args, code", [(["backbones"], 0), (["evaluate", "no-such-run"], 2)])
def test_a_headless_command_ends_quickly_with_its_code_output_and_exit_handlers(
        tmp_path, args, code):
    marker = tmp_path / "marker.txt"
    proc = subprocess.run([sys.executable, "-c", _RUN_WITH_MARKER, str(marker), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TORCH_HOME": str(tmp_path)})
    assert proc.returncode == code, proc.stderr
    assert marker.read_text() == "exit handlers ran"  # atexit and weakref.finalize still run
    if code == 0:  # the whole table came through the pipe (flushed before os._exit)
        assert "efficientnet_lite0" in proc.stdout and "vit_b_16" in proc.stdout
    else:
        assert "no-such-run" in proc.stderr


def test_the_fast_exit_is_only_for_headless_commands(monkeypatch):
    import torch  # noqa: F401  (the fast exit applies once torch is loaded)

    from transfer_gui import launcher

    ended = []

    def record(how):
        def end(code):
            ended.append((how, code))
            raise SystemExit(code)
        return end

    monkeypatch.setattr(launcher, "exit_now", record("exit_now"))
    monkeypatch.setattr(launcher.sys, "exit", record("sys.exit"))
    monkeypatch.setattr(launcher, "main", lambda args: 3)
    for argv in (["train"], [], ["cells.tgproj"], ["--self-test"]):
        monkeypatch.setattr(launcher.sys, "argv", ["transfer-gui", *argv])
        with pytest.raises(SystemExit):
            launcher.run()
    assert ended == [("exit_now", 3), ("sys.exit", 3), ("sys.exit", 3), ("sys.exit", 3)]
