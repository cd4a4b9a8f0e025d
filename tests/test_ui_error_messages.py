"""Errors from saving or opening a project, showing a run and starting training read plainly
(issue 12.12): the dialog's text has no raw error code, library message or long folder path;
the exception's full text is in the Details section."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402
import zipfile  # noqa: E402

import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from transfer_gui.core.errors import UserError  # noqa: E402
from transfer_gui.ui.error_dialog import user_error_message  # noqa: E402

RAW = re.compile(r"Errno|zip file|Expecting value|line \d+ column")


def dialog(widget, name: str) -> QMessageBox:
    box = widget.findChild(QMessageBox, name)
    assert box is not None, f"no {name} dialog"
    return box


def test_a_failing_save_reads_plainly(make_window, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    target = blocker / "p.tgproj"  # its folder is a file: the OS says [Errno 20]
    window = make_window()
    assert not window.projects.save_to(target)
    box = dialog(window, "projectError")
    assert not RAW.search(box.text()) and "p.tgproj" in box.text(), box.text()
    assert "is a file, not a folder" in box.text()  # the cause, in words
    assert str(blocker) in box.detailedText()  # the whole message, folder and all
    assert "Save project as" in box.informativeText()  # what to do
    assert window.projects.path is None


def test_a_file_that_is_not_a_project_reads_plainly(make_window, tmp_path):
    bad = tmp_path / "bad.tgproj"
    bad.write_bytes(b"not a zip")
    window = make_window()
    assert not window.projects.open(str(bad))
    box = dialog(window, "projectError")
    assert box.text() == "“bad.tgproj” is not a transfer_gui project file."
    assert "File is not a zip file" in box.detailedText() and str(bad) in box.detailedText()


def test_a_damaged_project_reads_plainly(make_window, tmp_path):
    bad = tmp_path / "damaged.tgproj"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("project.json", "{ not json")
    window = make_window()
    assert not window.projects.open(str(bad))
    box = dialog(window, "projectError")
    assert not RAW.search(box.text()) and "damaged" in box.text(), box.text()
    assert "is not valid JSON" in box.text()
    assert "Expecting" in box.detailedText() or "line 1" in box.detailedText()


def test_a_settings_error_on_start_reads_plainly(make_window, monkeypatch):
    window = make_window()

    def broken_config():
        raise UserError("Could not read /a/b/weights.pth ([Errno 2] No such file or directory: "
                        "'/a/b/weights.pth').", path="/a/b/weights.pth")

    monkeypatch.setattr(window.state, "config", broken_config)
    window.train_page.start()
    box = dialog(window.train_page, "settingsError")
    assert box.text() == "Could not read “weights.pth”."
    assert "[Errno 2]" in box.detailedText() and not window.state.training


def test_user_error_message_keeps_plain_bracketed_words():
    plain = "“x.tgproj” holds a member that points outside the project (refused; nothing was extracted)."
    raw = UserError(plain.replace("“x.tgproj”", "/q/x.tgproj"), path="/q/x.tgproj")
    assert user_error_message(raw) == plain
    assert user_error_message(UserError("learning rate must be > 0")) == "learning rate must be > 0."


def test_failed_jobs_status_lines_read_plainly(make_window):
    """The status lines of failed jobs (Compare modes, Cross-validate, the CAM panel) keep raw
    error codes out of the text; the raw message stays in the tooltip."""
    raw = "[Errno 28] No space left on device: '/data/run/.metrics.jsonl.x1.tmp'"
    window = make_window()
    from transfer_gui.ui.compare.compare_view import CompareView

    modes = CompareView(window)
    modes._on_failed(raw, "")
    assert "Errno" not in modes.status.text() and "No space left" in modes.status.text()
    assert "Errno" in modes.status.toolTip()
    panel = window.results_page.crossval
    panel._show_error(raw)
    assert "Errno" not in panel.error.text() and "No space left" in panel.error.text()
    assert "Errno" in panel.error.toolTip()
    from transfer_gui.ui.cam.cam_panel import CamPanel

    cam = CamPanel(window)
    cam.runner.failed.emit(raw, "")
    assert "Errno" not in cam.info.text() and "No space left" in cam.info.text()
