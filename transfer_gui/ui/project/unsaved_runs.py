"""Runs trained but never saved in a project file, remembered across sessions.

A run folder is noted as soon as its training starts, so a run survives a crash or a close
during training too; saving it in a project, or discarding it, forgets it. The next start
offers the runs that kept a model: Open them / Discard / Later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QMessageBox, QWidget

from transfer_gui.core.run import Run

UNSAVED_KEY = "projects/unsaved_runs"
OPEN, DISCARD, LATER = "open", "discard", "later"


class UnsavedRuns:
    """The remembered run folders, kept in the app's settings."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def paths(self) -> list[Path]:
        value = self.settings.value(UNSAVED_KEY, []) or []
        return [Path(p) for p in ([value] if isinstance(value, str) else list(value))]

    def _write(self, paths: list[Path]) -> None:
        self.settings.setValue(UNSAVED_KEY, [str(p) for p in paths])
        self.settings.sync()  # a crash right after must not lose it

    def add(self, paths: Iterable[str | Path]) -> None:
        known = self.paths()
        keys = {_key(p) for p in known}
        new = [Path(p) for p in paths if p is not None and _key(p) not in keys]
        if new:
            self._write(known + new)

    def remove(self, paths: Iterable[str | Path]) -> None:
        gone = {_key(p) for p in paths}
        known = self.paths()
        kept = [p for p in known if _key(p) not in gone]
        if len(kept) != len(known):
            self._write(kept)

    def with_models(self) -> list[Path]:
        """The remembered runs that kept a model (a run stopped before its first epoch ended
        has none), oldest first; forgets folders that are gone."""
        known = self.paths()
        present = [p for p in known if p.is_dir()]
        if len(present) != len(known):
            self._write(present)
        return [p for p in present if Run(p).has_model]


def _key(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def ask_about_unsaved_runs(parent: Optional[QWidget], runs: list[Path]) -> str:
    """OPEN, DISCARD or LATER, asked in a message box."""
    tr = lambda text: QCoreApplication.translate("UnsavedRuns", text)  # noqa: E731
    count = len(runs)
    text = (tr("1 run from your last session was not saved in a project.") if count == 1 else
            tr("{n} runs from your last session were not saved in a project.").format(n=count))
    box = QMessageBox(QMessageBox.Icon.Question, tr("Runs not saved"), text,
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("unsavedRunsOffer")
    box.setInformativeText(tr(
        "Open them to see their results and save them in a project. Discard forgets them (their "
        "folders stay on disk). Later asks again at the next start."))
    box.setDetailedText("\n".join(str(p) for p in runs))
    open_button = box.addButton(tr("&Open them"), QMessageBox.ButtonRole.AcceptRole)
    discard_button = box.addButton(tr("&Discard"), QMessageBox.ButtonRole.DestructiveRole)
    later_button = box.addButton(tr("&Later"), QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(open_button)
    box.setEscapeButton(later_button)
    box.exec()
    clicked = box.clickedButton()
    return OPEN if clicked is open_button else DISCARD if clicked is discard_button else LATER
