"""File > New / Open / Save / Save As: a project is a dataset and its runs (core/project.py).

The runs themselves live in the AppState (`state.runs`), where the Results page's run picker and
the Compare window read them; runs finished on the Train page and by Compare modes join them.
Reopening lands on the Results step with the last run's results, curves and CAM panel, without
retraining; a dataset folder that moved is asked for. Closing with unsaved runs asks first, and
runs never saved in a project are offered back at the next start (unsaved_runs.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, QSettings, QStandardPaths
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from transfer_gui.core.errors import UserError
from transfer_gui.core.project import PROJECT_SUFFIX, Project, load_project, save_project
from transfer_gui.core.run import Run
from transfer_gui.core.training.engine import TrainingResult
from transfer_gui.ui.error_dialog import show_exception

from .reopen import ReopenedRun
from .unsaved_runs import DISCARD, OPEN, UnsavedRuns, ask_about_unsaved_runs

RECENT_KEY = "projects/recent"
MAX_RECENT = 8


class ProjectController(QObject):
    """Owns the current project file, its runs and the unsaved-changes state of a main window."""

    def __init__(self, window: QMainWindow, settings: QSettings) -> None:
        super().__init__(window)
        self.window, self.settings = window, settings
        self.path: Optional[Path] = None
        self._dirty = False
        self.unsaved = UnsavedRuns(settings)
        self.reopened = ReopenedRun(window)  # a reopened project's run, shown once scanned
        window.train_page.trainingFinished.connect(self.add_run)
        window.state.trainingChanged.connect(self._note_training_run)
        window.state.correctionsChanged.connect(lambda: setattr(self, "dirty", True))

    @property
    def dirty(self) -> bool:
        """True when the project has runs not saved in its file (the title shows a '*')."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self._dirty = bool(value)
        self.update_title()

    def update_title(self) -> None:
        """The project's name once; Qt adds the application's name after it ("colors — Transfer
        GUI"), so the title does not repeat it. No project and no runs: the app's name alone."""
        window = self.window
        if self.path is None and not self.runs:
            window.setWindowTitle(self.tr("Transfer GUI"))
            return
        name = self.path.stem if self.path is not None else self.tr("Unsaved project")
        window.setWindowTitle(f"{name}[*]")
        window.setWindowModified(self._dirty)

    @property
    def runs(self) -> list[Path]:
        """The project's run folders, oldest first (kept in the window's AppState)."""
        return self.window.state.runs

    # -- menu ---------------------------------------------------------------------------------
    def add_actions(self, menu: QMenu) -> None:
        for text, key, slot in ((self.tr("&New project"), QKeySequence.StandardKey.New, self.new),
                                (self.tr("Open &project…"), None, self.open),
                                (self.tr("&Save project"), QKeySequence.StandardKey.Save, self.save),
                                (self.tr("Save project &as…"), QKeySequence.StandardKey.SaveAs,
                                 self.save_as)):
            action = QAction(text, self.window)
            if key is not None:
                action.setShortcut(key)
            action.triggered.connect(lambda _=False, s=slot: s())
            menu.addAction(action)
        self.recent_menu = menu.addMenu(self.tr("Open &recent project"))
        self.recent_menu.aboutToShow.connect(self._fill_recent)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open(p))
        self.recent_menu.setEnabled(bool(self.recent()))

    def recent(self) -> list[str]:
        paths = self.settings.value(RECENT_KEY, []) or []
        return [p for p in ([paths] if isinstance(paths, str) else list(paths)) if Path(p).is_file()]

    def _remember(self, path: Path) -> None:
        paths = [str(path)] + [p for p in self.recent() if p != str(path)]
        self.settings.setValue(RECENT_KEY, paths[:MAX_RECENT])

    # -- state ----------------------------------------------------------------------------------
    def add_run(self, result: Optional[TrainingResult]) -> None:
        """A run finished (Train page or Compare modes): it joins the project and is selected.

        A run that saved no model (stopped before its first epoch ended) is left out.
        """
        if result is not None and result.best is not None:
            self.unsaved.add([result.run_dir])
            self.window.state.add_run(result)
            self.dirty = True

    def _note_training_run(self, running: bool) -> None:
        """Remember a run folder as soon as its training starts: a crash, or a close during
        training, still leaves it to be offered at the next start."""
        run_dir = getattr(self.window.train_page, "run_dir", None)
        if running and run_dir is not None:
            self.unsaved.add([run_dir])

    def add_stopped_run(self, run_dir: Optional[str | Path]) -> None:
        """Training was stopped for closing: its run (the best model so far) joins the project,
        so the unsaved-runs question covers it. A run with no model yet is left out."""
        if run_dir is None or not Run(run_dir).has_model:
            return
        state = self.window.state
        if state.run_index(run_dir) is None:
            state.set_runs([*state.runs, Path(run_dir)])
        self.dirty = True

    def _busy(self) -> bool:
        """True while training (Train page or Compare modes) could still add runs."""
        compare = getattr(self.window, "compare_view", None)
        busy = self.window.state.training or (compare is not None and compare.is_running())
        if busy:
            self.window.statusBar().showMessage(
                self.tr("Stop training before opening or starting another project."), 5000)
        return busy

    def maybe_save(self) -> bool:
        """True when it is fine to discard the current project (saved, or the user said so)."""
        if not self.dirty:
            return True
        answer = QMessageBox.question(
            self.window, self.tr("Unsaved runs"),
            self.tr("This project has runs or data corrections that are not saved in a project "
                    "file. Save them?"),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        if answer == QMessageBox.StandardButton.Discard:
            self.unsaved.remove(self.runs)  # not offered again at the next start
            return True
        return False

    def new(self) -> None:
        if self._busy() or not self.maybe_save():
            return
        self.path = None
        self.reopened.cancel()
        self.window.state.set_runs([])
        self.dirty = False
        self.window.state.set_result(None)
        self.window.state.set_dataset(None, None)
        self.window.go_to(0)

    def save(self) -> bool:
        return self.save_to(self.path) if self.path else self.save_as()

    def save_as(self) -> bool:
        start = str(self.path or Path(self.window.state.data_dir or ".").parent / f"project{PROJECT_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, self.tr("Save project"), start,
                                              self.tr("Transfer GUI project (*{s})").format(s=PROJECT_SUFFIX))
        return self.save_to(Path(path)) if path else False

    def save_to(self, path: Path) -> bool:
        path = Path(path)
        if path.suffix != PROJECT_SUFFIX:
            path = path.with_suffix(PROJECT_SUFFIX)
        data_dir = self.window.state.data_dir
        try:
            save_project(path, Project(path.stem, Path(data_dir) if data_dir else None,
                                       list(self.runs), self.window.state.corrections))
        except UserError as exc:
            show_exception(self.window, self.tr("Save project"), exc, object_name="projectError",
                           informative=self.tr("Choose a folder you can write to, with free space, "
                                               "in File > Save project as…"))
            return False
        self.path, self.dirty = path, False
        self.unsaved.remove(self.runs)  # they are in the project file now
        self._remember(path)
        self.window.statusBar().showMessage(self.tr("Saved {p}").format(p=path), 5000)
        return True

    def open(self, path: Optional[str] = None) -> bool:
        if self._busy() or not self.maybe_save():
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self.window, self.tr("Open project"), "",
                self.tr("Transfer GUI project (*{s})").format(s=PROJECT_SUFFIX))
            if not path:
                return False
        try:
            project = load_project(path, self._extract_folder(Path(path)))
            if project.dataset_missing and not self._relocate(project):
                return False
        except UserError as exc:
            show_exception(self.window, self.tr("Open project"), exc, object_name="projectError")
            return False
        self.path = Path(path)
        self.window.state.set_runs(project.runs)
        self.dirty = False
        self._remember(Path(path))
        self._show(project)
        return True

    def offer_unsaved_runs(self, ask=ask_about_unsaved_runs) -> str:
        """At start-up: offer the runs of earlier sessions that were never saved in a project
        (`ask(window, runs)` answers OPEN, DISCARD or LATER; LATER asks again next time).
        Returns the answer, or "" when there was nothing to offer."""
        runs = self.unsaved.with_models()
        if not runs or self.runs:
            return ""
        answer = ask(self.window, runs)
        if answer == OPEN:
            self.open_runs(runs)
        elif answer == DISCARD:
            self.unsaved.remove(runs)
        return answer

    def open_runs(self, runs: list[Path]) -> None:
        """Show run folders as a new, unsaved project (on the last run's dataset)."""
        self.path, state = None, self.window.state
        state.set_runs(runs)
        self.dirty = True
        try:  # the config alone: the run's result is read once its dataset is scanned
            dataset_dir: Optional[Path] = Path(Run.open(runs[-1]).config().data_dir)
        except UserError:
            dataset_dir = None
        self._show(Project(self.tr("Unsaved project"),
                           dataset_dir if dataset_dir is not None and dataset_dir.is_dir() else None,
                           list(runs)))

    def _extract_folder(self, path: Path) -> Path:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
        key = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:16]
        return Path(base) / "projects" / key

    def _relocate(self, project: Project) -> bool:
        QMessageBox.information(self.window, self.tr("Dataset moved"), self.tr(
            "The project's dataset folder {p} is not there any more. Choose where it is now.")
            .format(p=project.dataset_dir))
        new = QFileDialog.getExistingDirectory(self.window, self.tr("Where is the dataset now?"))
        if not new:
            return False
        project.relocate_dataset(new)
        return True

    def _show(self, project: Project) -> None:
        """Restore the dataset view and, once it is scanned, select the last run: its results,
        curves (the Train page follows the selected run) and CAM panel (reopen.py); the Results
        page's picker lists the others."""
        window = self.window
        self.reopened.cancel()
        if project.dataset_dir:
            window.data_page.open_folder(str(project.dataset_dir))
            dirty = self._dirty
            window.state.set_corrections(project.corrections)
            self.dirty = dirty
        else:
            window.state.set_dataset(None, None)
        window.state.set_result(None)
        if project.runs:
            self.reopened.show(project.runs[-1], project.dataset_dir)
        self.update_title()

    def shutdown(self) -> None:
        """The window is closing: stop reading a reopened run."""
        self.reopened.shutdown()
