"""Helpers shared by the Qt tests."""


def forget_unsaved_runs(window) -> None:
    """pytest-qt closes its widgets before fixtures finish: skip the unsaved-runs prompt then
    (give it as `qtbot.addWidget(window, before_close_func=forget_unsaved_runs)`)."""
    window.projects.dirty = False


def reopened(settings):
    """A second QSettings on the same file as `settings` (what the next window or page reads)."""
    from PySide6.QtCore import QSettings

    return QSettings(settings.fileName(), QSettings.Format.IniFormat)


def show_page(qtbot, widget, size=(1280, 800)):
    """Register `widget` with qtbot, show it at `size` and wait until it is on screen."""
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget
