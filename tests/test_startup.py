"""Start-up: `--help` without torch, a clear exit when Qt's X11 libraries are missing, the splash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from transfer_gui import qt_system_libraries as qsl

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "PySide6")


def _run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter that imports transfer_gui from this checkout."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=environment)


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["--version"]])
def test_help_imports_neither_torch_nor_qt(argv):
    code = f"""
import sys
from transfer_gui.launcher import main
try:
    main({argv!r})
except SystemExit as stop:
    assert stop.code in (0, None), stop.code
print("HEAVY", sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout[-500:]


def test_train_help_still_lists_the_registries_choices():
    done = _run_python("from transfer_gui.cli import main; main(['train', '--help'])")
    assert "{feature_extraction,fine_tuning,from_scratch}" in done.stdout
    assert "{none,light,strong}" in done.stdout
    assert "default: efficientnet_lite0" in done.stdout
    assert "`transfer-gui backbones` lists them" in done.stdout


def test_a_wrong_backbone_still_fails_with_the_valid_names(capsys):
    from transfer_gui.cli import main
    from transfer_gui.core.models import backbone_names

    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", "d", "--out", "o", "--backbone", "resnet19"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'resnet19'" in err
    assert all(name in err for name in backbone_names())


# --- Qt's X11 libraries -------------------------------------------------------------------------

def _loader(missing: set[str], plugin_error: str | None):
    """A stand-in for ctypes.CDLL: fails for the plugin (with `plugin_error`) and for `missing`."""
    def load(name: str):
        if name.endswith("libqxcb.so") and plugin_error:
            raise OSError(plugin_error)
        if name in missing:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return object()

    return load


def test_missing_xcb_libraries_are_named_with_their_packages(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    missing = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"}
    load = _loader(missing, "libxcb-icccm.so.4: cannot open shared object file: No such file")
    found = qsl.missing_libraries(load, plugin=plugin)
    assert found[0] == "libxcb-icccm.so.4"  # the one the loader named first
    assert set(found) == missing
    hint = qsl.install_hint(found)
    assert "sudo apt install libxcb-icccm4 libxcb-cursor0 libxcb-keysyms1" in hint
    assert "libxcb-cursor.so.0 (package libxcb-cursor0)" in hint


def test_nothing_is_reported_when_the_plugin_loads_or_cannot_be_found(tmp_path, monkeypatch):
    everything_missing = _loader(set(qsl.DEBIAN_PACKAGES), None)
    assert qsl.missing_libraries(everything_missing, plugin=tmp_path / "libqxcb.so") == []
    monkeypatch.setattr(qsl, "xcb_plugin_path", lambda: None)  # an unknown layout: never guess
    failing = _loader({"libxcb-cursor.so.0"}, "libxcb-cursor.so.0: cannot open shared object file")
    assert qsl.missing_libraries(failing) == []


@pytest.mark.skipif(not sys.platform.startswith("linux") or qsl.xcb_plugin_path() is None,
                    reason="PySide6's xcb plugin is a Linux file")
def test_the_real_loader_names_what_a_moved_plugin_lacks(tmp_path):
    """A copy of the plugin outside PySide6 cannot find its Qt libraries: a real loader failure."""
    moved = tmp_path / "libqxcb.so"
    shutil.copy(qsl.xcb_plugin_path(), moved)
    assert "libQt6XcbQpa.so.6" in qsl.missing_libraries(plugin=moved)


@pytest.mark.parametrize("environ, platform, expected", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "linux", False),
    ({"DISPLAY": ":0"}, "darwin", False),
    ({}, "win32", False),
])
def test_the_check_runs_only_where_qt_uses_x11(environ, platform, expected):
    assert qsl.uses_xcb(environ, platform) is expected


def test_no_display_is_said_in_words():
    problem = qsl.qt_start_problem({}, "linux", load=_loader(set(), None))
    assert "no screen to show it on" in problem


def test_the_app_exits_2_with_the_install_command_before_loading_qt_or_torch():
    code = f"""
import sys
from transfer_gui import launcher, qt_system_libraries
qt_system_libraries.missing_libraries = lambda *a, **k: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
code = launcher.main([])
print("HEAVY", sorted(m for m in {HEAVY!r} if m in sys.modules))
sys.exit(code)
"""
    env = {"DISPLAY": ":0", "QT_QPA_PLATFORM": "", "XDG_SESSION_TYPE": "x11"}
    done = _run_python(code, env)
    assert done.returncode == 2, done.stderr
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in done.stderr
    assert "HEAVY []" in done.stdout


def test_the_readme_names_the_packages_and_the_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "sudo apt install " + " ".join(qsl.USUALLY_MISSING) in readme


# --- the splash ---------------------------------------------------------------------------------

def test_the_splash_shows_its_picture_and_progress(qtbot):
    from transfer_gui.ui.app import APP_ICON
    from transfer_gui.ui.splash import SPLASH_TITLE, StartupSplash

    splash = StartupSplash(APP_ICON)
    qtbot.addWidget(splash)
    splash.show_now("Loading PyTorch...")
    assert splash.isVisible() and splash.windowTitle() == SPLASH_TITLE
    assert splash.message() == "Loading PyTorch..."
    image = splash.pixmap().toImage()
    centre = image.pixelColor(image.width() // 2, int(image.height() * 0.3))
    assert centre.name() != "#ffffff"  # the app icon was drawn, not only the white card
    splash.step("Opening the main window...")
    assert splash.message() == "Opening the main window..."


def test_the_self_test_reports_missing_libraries_as_a_failed_step(tmp_path, monkeypatch):
    import json

    from transfer_gui.self_test import run_self_test

    monkeypatch.setattr(qsl, "qt_start_problem", lambda: qsl.install_hint(["libxcb-cursor.so.0"]))
    assert run_self_test(str(tmp_path / "report.json")) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    step = report["steps"][-1]
    assert step["name"] == "Qt system libraries" and not step["passed"]
    assert "sudo apt install libxcb-cursor0" in step["error"]
