"""Keyboard access (issue 12.14): on every page and window the visible buttons, checkable
controls, label buddies and the menu bar use each Alt+letter once; every button of the CAM,
Compare, Export and Guide windows has one; Esc and Ctrl+W close those windows."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402
import shutil  # noqa: E402
from collections import defaultdict  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import (QAbstractButton, QApplication, QGroupBox, QLabel,  # noqa: E402
                               QPushButton, QWidget)

from synthetic import make_color_dataset, tiny_spec  # noqa: E402
from transfer_gui.core.models import register_backbone, unregister_backbone  # noqa: E402
from transfer_gui.core.run_result import load_run_result  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.training.config import MODES, TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402

MNEMONIC = re.compile(r"&([^&\s])")


def mnemonic(text: str) -> str:
    """The Alt+letter of a control's text ("" for none; "&&" is a literal ampersand)."""
    match = MNEMONIC.search(text.replace("&&", ""))
    return match.group(1).lower() if match else ""


def shown(widget: QWidget, root: QWidget) -> bool:
    return widget.isVisibleTo(root) and widget.window() is root.window()


def controls(root: QWidget) -> dict[str, list[str]]:
    """Alt+letter -> the texts of the visible controls of `root` (its own window only) that use
    it: buttons, check boxes, radio buttons, group boxes and labels with a buddy."""
    used: dict[str, list[str]] = defaultdict(list)
    for widget in [root, *root.findChildren(QWidget)]:
        if not shown(widget, root) or not widget.isEnabled() and not isinstance(widget, QLabel):
            continue
        if isinstance(widget, QAbstractButton):
            text = widget.text()
        elif isinstance(widget, QGroupBox):
            text = widget.title()
        elif isinstance(widget, QLabel) and widget.buddy() is not None:
            text = widget.text()
        else:
            continue
        if key := mnemonic(text):
            used[key].append(text)
    return used


def menu_bar(window) -> dict[str, list[str]]:
    used: dict[str, list[str]] = defaultdict(list)
    for action in window.menuBar().actions():
        if action.isVisible() and (key := mnemonic(action.text())):
            used[key].append(action.text())
    return used


def duplicates(*maps: dict[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = defaultdict(list)
    for used in maps:
        for key, texts in used.items():
            merged[key].extend(texts)
    return {key: texts for key, texts in merged.items() if len(texts) > 1}


def buttons_without_mnemonic(root: QWidget) -> list[str]:
    return [b.text() for b in root.findChildren(QPushButton)
            if shown(b, root) and b.text() and not mnemonic(b.text())]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short feature-extraction run, trained once for the module, and a copy of it (two
    runs make the Run picker show)."""
    folder = tmp_path_factory.mktemp("keyboard")
    spec = tiny_spec(folder / "tiny.pth")
    register_backbone(spec)
    data = make_color_dataset(folder / "data", per_class=9)
    config = TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                  epochs=1, batch_size=8)
    train_run(config, folder / "run1", feature_cache=FeatureCache())
    shutil.copytree(folder / "run1", folder / "run2")
    yield data, [folder / "run1", folder / "run2"]
    unregister_backbone(spec.name)


@pytest.fixture
def window_with_runs(qtbot, make_window, trained):
    """The main window with the dataset open and both runs in the project."""
    data, runs = trained
    window = make_window()
    window.show()
    window.data_page.open_folder(str(data))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    window.state.set_backbone("tiny_test")
    for run in runs:
        window.state.add_run(load_run_result(run))
    window.projects.dirty = False
    yield window
    for other in (window.cam_panel, window.compare_view):
        if other is not None:
            other.shutdown()
    if window.export_dialog is not None:
        window.export_dialog.reject()


def test_each_page_uses_each_mnemonic_once(window_with_runs):
    window = window_with_runs
    clashes = {}
    for mode in MODES:  # each mode shows its own rows on the Settings page
        window.state.set_mode(mode)
        window.settings_page.show_advanced.setChecked(True)
        for index, page in enumerate(window.pages):
            window.go_to(index)
            assert window.stack.currentWidget() is page
            found = duplicates(controls(window), menu_bar(window))
            if found:
                clashes[f"{page.title()} ({mode})"] = found
    assert clashes == {}
    assert mnemonic(window.back_button.text()) == "b"  # Alt+B goes to "< Back"
    for index, page in enumerate(window.pages):
        window.go_to(index)
        assert "f" not in controls(window), page.title()  # Alt+F stays the File menu's


def open_cam(qtbot, window):
    window.open_in_cam(window.state.result.dataset.split("val")[0].path)
    qtbot.waitUntil(lambda: window.cam_panel.current is not None, timeout=30_000)
    return window.cam_panel


def open_compare(qtbot, window):
    window.open_compare()
    return window.compare_view


def open_export(qtbot, window):
    window.open_export()  # window-modal: the other windows wait until it is closed
    return window.export_dialog


def open_guide(qtbot, window):
    return window.help.open_guide()


OPENERS = {"CAM": open_cam, "Compare": open_compare, "Export": open_export, "Guide": open_guide}


def other_windows(qtbot, window):
    """The CAM panel, the Compare window, the Export dialog and the guide, each opened and
    shown in turn (the caller closes each before the next: Export is window-modal)."""
    for name, opener in OPENERS.items():
        other = opener(qtbot, window)
        other.show()
        other.activateWindow()
        qtbot.waitExposed(other)
        qtbot.waitUntil(lambda: QApplication.activeWindow() is other, timeout=2_000)
        yield name, other


def test_windows_use_each_mnemonic_once_and_every_button_has_one(qtbot, window_with_runs):
    problems = {}
    for name, other in other_windows(qtbot, window_with_runs):
        found = duplicates(controls(other))
        missing = buttons_without_mnemonic(other)
        if found or missing:
            problems[name] = {"duplicates": found, "no mnemonic": missing}
        other.close()
    assert problems == {}


@pytest.mark.parametrize("keys", ["escape", "ctrl+w"])
def test_escape_and_ctrl_w_close_the_windows(qtbot, window_with_runs, keys):
    still_open = []
    for name, other in other_windows(qtbot, window_with_runs):
        focus = QApplication.focusWidget()  # where the key goes, as when the user presses it
        target = focus if focus is not None and focus.window() is other else other
        if keys == "escape":
            QTest.keyClick(target, Qt.Key.Key_Escape)
        else:
            QTest.keyClick(target, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
        if not _closes(qtbot, other):
            still_open.append(name)
            other.close()
    assert still_open == []


def _closes(qtbot, widget) -> bool:
    """Whether `widget` is hidden within 2 s."""
    try:
        qtbot.waitUntil(lambda: not widget.isVisible(), timeout=2_000)
    except Exception:  # pytest-qt's TimeoutError
        return False
    return True


def test_cam_panel_names_the_model_it_explains(qtbot, window_with_runs):
    """Issue 12.10: the CAM panel says which run's model it uses, and keeps saying so for the
    model it was given until it is given another."""
    window = window_with_runs
    cam = open_cam(qtbot, window)
    assert cam.model_in_use.text().startswith("Model in use: run 2 · ")
    window.results_page.run_picker.choose(0)  # the panel still explains run 2's model...
    assert cam.model_in_use.text().startswith("Model in use: run 2 · ")
    open_cam(qtbot, window)  # ...until an image is opened with run 1 selected
    assert cam.model_in_use.text().startswith("Model in use: run 1 · ")
