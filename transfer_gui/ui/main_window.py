"""The main window: a step list, the wizard pages, Back/Next, and the app-level behaviour
(drag and drop, remembered geometry and choices, a safe close during training)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow,
                               QMessageBox, QPushButton, QStackedWidget, QVBoxLayout, QWidget)

from transfer_gui import __version__

from .wizard_page import PAGE_MARGINS, WizardPage, scrolling_pages
from transfer_gui.ui.data.data_page import DataPage
from transfer_gui.ui.model.model_page import ModelPage
from transfer_gui.ui.predict.predict_page import PredictPage
from transfer_gui.ui.results.results_page import ResultsPage
from transfer_gui.ui.settings.settings_page import SettingsPage
from transfer_gui.ui.settings.storage_rows import StorageRows
from transfer_gui.ui.train.train_page import TrainPage
from .folders import output_folder
from .screen_fit import fit_to_screen, keep_on_screen
from .state import AppState


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings, runs_root: Optional[Path] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.state = AppState(self)
        self.state.backbone = str(settings.value("choices/backbone", self.state.backbone))
        self.state.mode = str(settings.value("choices/mode", self.state.mode))
        self._validate_restored_choices()
        self.setWindowTitle(self.tr("Transfer GUI"))
        self.setAcceptDrops(True)

        self.data_page = DataPage(self.state, settings)
        self.model_page = ModelPage(self.state)
        self.storage_rows = StorageRows(settings, on_folder_changed=self._use_output_folder)
        self.settings_page = SettingsPage(self.state, storage=self.storage_rows)
        # New runs go to a visible folder (Documents/Transfer GUI/runs unless changed in Settings).
        self.train_page = TrainPage(self.state, runs_root or output_folder(settings) / "runs")
        self.results_page = ResultsPage(self.state)
        self.predict_page = PredictPage(self.state)
        self.pages: list[WizardPage] = [self.data_page, self.model_page, self.settings_page,
                                        self.train_page, self.results_page, self.predict_page]

        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.steps.setToolTip(self.tr("The steps from images to a trained classifier"))
        self.steps.setFixedWidth(170)
        for i, page in enumerate(self.pages):
            QListWidgetItem(f"{i + 1}.  {page.title()}", self.steps)
        self.steps.currentRowChanged.connect(self._on_step_clicked)
        self.stack = QStackedWidget()
        for page in self.pages:
            page.layout().setContentsMargins(*PAGE_MARGINS)  # one page margin everywhere
            self.stack.addWidget(page)
            page.completeChanged.connect(self._update_navigation)

        self.reason = QLabel()
        self.reason.setObjectName("blockerReason")
        self.reason.setWordWrap(True)
        self.back_button = QPushButton(self.tr("< &Back"))
        self.back_button.setToolTip(self.tr("Previous step"))
        self.back_button.clicked.connect(lambda: self.go_to(self.stack.currentIndex() - 1))
        self.next_button = QPushButton(self.tr("&Next >"))
        self.next_button.setToolTip(self.tr("Next step"))
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(lambda: self.go_to(self.stack.currentIndex() + 1))
        nav = QHBoxLayout()
        nav.addWidget(self.reason, 1)
        nav.addWidget(self.back_button)
        nav.addWidget(self.next_button)

        right = QVBoxLayout()
        right.addWidget(scrolling_pages(self.stack), 1)
        right.addLayout(nav)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.steps)
        layout.addLayout(right, 1)
        self.setCentralWidget(central)
        from transfer_gui.ui.project.projects import ProjectController

        self.projects = ProjectController(self, settings)
        self._build_menu()
        self.state.choicesChanged.connect(self._remember_choices)
        self.state.trainingChanged.connect(lambda _: self._update_navigation())
        self.train_page.trainingFinished.connect(self._on_training_finished)
        which = self.model_page.which_button  # its ensembles are runs like the Train page's
        which.runs_root = lambda: self.train_page.runs_root
        which.runMade.connect(self.projects.add_run)
        self.cam_panel = None  # made on first use
        self.compare_view = None  # made on first use
        self.follow_windows: list = []  # File > Follow a run folder…
        self.export_dialog = None
        self.predict_page.openInCam.connect(self.open_in_cam)
        self.results_page.openInCam.connect(lambda path, true, pred: self.open_in_cam(path))
        self.results_page.exportRequested.connect(self.open_export)
        self.data_page.thumb_strip.imageActivated.connect(self.open_in_cam)

        geometry = settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            fit_to_screen(self, 1280, 800)
        else:
            keep_on_screen(self)
        self.go_to(0)

    def _validate_restored_choices(self) -> None:
        from transfer_gui.core.models import backbone_names
        from transfer_gui.core.training.config import MODES

        if self.state.backbone not in backbone_names():
            self.state.backbone = backbone_names()[0]
        if self.state.mode not in MODES:
            self.state.mode = MODES[0]

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        self.projects.add_actions(file_menu)
        file_menu.addSeparator()
        open_action = QAction(self.tr("&Open dataset folder…"), self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(lambda: (self.go_to(0), self.data_page.choose_folder()))
        quit_action = QAction(self.tr("&Quit"), self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(open_action)
        compare_action = QAction(self.tr("&Compare runs…"), self)
        compare_action.setToolTip(self.tr("All runs side by side, and one-click Compare modes"))
        compare_action.triggered.connect(self.open_compare)
        file_menu.addAction(compare_action)
        follow_action = QAction(self.tr("&Follow a run folder…"), self)
        follow_action.setToolTip(self.tr("Watch a run another computer or process is writing "
                                         "(e.g. a job on a server, on a shared drive)"))
        follow_action.triggered.connect(self.choose_followed_run)
        file_menu.addAction(follow_action)
        self.export_action = QAction(self.tr("&Export model…"), self)
        self.export_action.triggered.connect(self.open_export)
        self.export_action.setEnabled(False)
        self.state.resultChanged.connect(lambda: self.export_action.setEnabled(
            self.state.result is not None and self.state.result.has_model))
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        from transfer_gui.ui.guide.help_menu import HelpActions

        self.help = HelpActions(self, help_menu)
        self.data_page.first_run_hint.guideRequested.connect(lambda: self.help.open_guide())
        about = QAction(self.tr("&About Transfer GUI"), self)
        about.triggered.connect(lambda: QMessageBox.about(self, self.tr("About Transfer GUI"), self.tr(
            "Transfer GUI {v}\nBuild an image classifier by transfer learning.").format(v=__version__)))
        help_menu.addAction(about)

    # -- navigation -----------------------------------------------------------------------
    def reachable(self, index: int) -> bool:
        """A step can be shown when every step before it is complete (and no training runs,
        except for looking at the Train page itself)."""
        if self.state.training and index != self.pages.index(self.train_page):
            return False
        return all(not page.blocker() for page in self.pages[:index])

    def go_to(self, index: int) -> None:
        if 0 <= index < len(self.pages) and self.reachable(index):
            self.stack.setCurrentIndex(index)
            self.pages[index].on_enter()
        self._update_navigation()

    def _on_step_clicked(self, row: int) -> None:
        if row != self.stack.currentIndex():
            self.go_to(row)

    def _update_navigation(self) -> None:
        index = self.stack.currentIndex()
        page = self.pages[index]
        blocker = page.blocker()
        last = index == len(self.pages) - 1
        self.next_button.setEnabled(not last and not blocker and self.reachable(index + 1))
        self.back_button.setEnabled(index > 0 and self.reachable(index - 1))
        self.reason.setText(blocker if not last else "")
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(index)
        for i in range(self.steps.count()):
            item = self.steps.item(i)
            enabled = self.reachable(i)
            flags = item.flags()
            item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled if enabled
                          else flags & ~Qt.ItemFlag.ItemIsEnabled)
        self.steps.blockSignals(False)

    def _on_training_finished(self, result) -> None:
        self._update_navigation()
        if result is not None and result.best is not None:
            self.statusBar().showMessage(self.tr("{outcome}: see the Results step.").format(
                outcome=self.train_page.outcome_text(result)), 10000)

    # -- the CAM panel -------------------------------------------------------------------------
    def open_in_cam(self, path: str, target: Optional[str] = None) -> None:
        """Explain `path` with the selected run's model in the CAM panel (a window of its own)."""
        result = self.state.result
        if result is None or not result.model_path.is_file():
            self.statusBar().showMessage(self.tr("Train a model first to see where it looks."), 5000)
            return
        from transfer_gui.ui.cam.cam_panel import CamPanel

        if self.cam_panel is None:
            from transfer_gui.ui.model_in_use import ModelInUse

            self.cam_panel = CamPanel(self)
            self.cam_panel.model_in_use = ModelInUse(self.state, live=False)
            self.cam_panel.layout().insertWidget(0, self.cam_panel.model_in_use)
        model_path = str(result.model_path)
        if self.cam_panel.model_path != model_path:
            members = cam_members_for(result)
            self.cam_panel.set_model(model_path, result.dataset.class_names,
                                     members[0][1] if members else cam_layers_for(result),
                                     grid_sources_for(result), members)
            self.cam_panel.model_in_use.refresh()  # the run whose model the panel now explains
        self.cam_panel.show()
        self.cam_panel.raise_()
        self.cam_panel.explain(path, target)

    def choose_followed_run(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, self.tr(
            "The run folder being written (or the folder that holds it)"))
        if folder:
            self.follow_run(folder)

    def follow_run(self, folder: str | Path):
        """Follow the run being written at (or in) `folder` in a window of its own; it joins the
        project when it ends. None, with a message, when nothing is being written there."""
        from transfer_gui.core.errors import UserError
        from transfer_gui.core.follow import resolve_followed
        from transfer_gui.ui.train.follow_window import FollowWindow

        try:
            destination = resolve_followed(folder)
        except UserError as exc:
            QMessageBox.information(self, self.tr("Follow a run folder"), str(exc))
            return None
        window = FollowWindow(destination, self.state.run_result, self)
        window.runEnded.connect(self._followed_run_ended)
        self.follow_windows.append(window)
        window.show()
        return window

    def _followed_run_ended(self, result) -> None:
        """A followed run joins the project; with no dataset open yet, its dataset opens (when
        this computer has it at the same path), so that Results can show the run."""
        self.projects.add_run(result)
        data_dir = Path(result.config.data_dir)
        if self.state.data_dir is None and data_dir.is_dir():
            self.data_page.open_folder(str(data_dir))

    def open_export(self) -> None:
        """The Export model dialog for the selected run."""
        result = self.state.result
        if result is None or not result.model_path.is_file():
            self.statusBar().showMessage(self.tr("Train a model first, then export it."), 5000)
            return
        from transfer_gui.ui.export.export_dialog import ExportDialog

        self.export_dialog = ExportDialog(result.run_dir, self)
        self.export_dialog.open()

    def open_compare(self) -> None:
        """The Compare window over the project's runs (and any run folder added there); runs
        that its Compare modes trains join the project."""
        from transfer_gui.ui.compare.compare_view import CompareView

        if self.compare_view is None:
            self.compare_view = CompareView(self)
            self.compare_view.setWindowFlag(Qt.WindowType.Window)
            self.compare_view.setWindowTitle(self.tr("Compare runs"))
            fit_to_screen(self.compare_view, 1200, 720)
            self.compare_view.bind_state(self.state, self.train_page.runs_root)
            self.compare_view.runTrained.connect(self.projects.add_run)
        self.compare_view.show_project_runs()
        self.compare_view.show()

    def _use_output_folder(self, folder: Path) -> None:
        """The user chose another outputs folder in Settings: new runs go there."""
        self.train_page.runs_root = folder / "runs"
        if self.compare_view is not None:  # its Compare modes runs too (bound once, on creation)
            self.compare_view.set_app_runs_root(self.train_page.runs_root)

    def _remember_choices(self) -> None:
        self.settings.setValue("choices/backbone", self.state.backbone)
        self.settings.setValue("choices/mode", self.state.mode)

    # -- drag and drop of a dataset folder anywhere on the window -------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = event.mimeData().urls()[0].toLocalFile()
        if self.state.training:
            self.statusBar().showMessage(self.tr("Stop training before opening another folder."), 5000)
            return
        self.go_to(0)
        self.data_page.open_folder(folder)
        event.acceptProposedAction()

    # -- closing ------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.state.training:
            answer = QMessageBox.question(
                self, self.tr("Training is running"),
                self.tr("Stop training and close? The best model so far is kept as a run."),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.train_page.shutdown()  # stops (without scoring) and waits for the thread
            self.projects.add_stopped_run(self.train_page.run_dir)  # a run like any other
        if not self.projects.maybe_save():
            self.train_page.cancel_close()  # staying open
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.help.shutdown()
        self.projects.shutdown()
        for page in self.pages:
            page.shutdown()
        for window in (self.cam_panel, self.compare_view):
            if window is not None:
                window.shutdown()
                window.close()
        for window in self.follow_windows:
            window.close()
        if self.export_dialog is not None:
            self.export_dialog.reject()  # stops an export still running
        self.settings.sync()
        event.accept()


def cam_layers_for(result, backbone: Optional[str] = None) -> list[str]:
    """The CAM layer choices for a run's model (or its ensemble member `backbone`): the
    default first (built without weights)."""
    from transfer_gui.core.cam import candidate_layers
    from transfer_gui.core.models import get_backbone, make_model

    spec = get_backbone(backbone or result.config.backbone)
    return candidate_layers(make_model(spec, len(result.dataset.class_names), pretrained=False), spec)


def cam_members_for(result) -> Optional[list[tuple[str, list[str]]]]:
    """An ensemble run's members for the CAM panel: (display name, CAM layer choices) each;
    None for any other run."""
    from transfer_gui.core.models import get_backbone
    from transfer_gui.core.run import Run

    names = Run(result.run_dir).ensemble_members()
    return [(get_backbone(n).display_name, cam_layers_for(result, n)) for n in names] or None


def grid_sources_for(result) -> dict[str, list[str]]:
    """Per class, the images of the run's evaluation split (test if any, else validation)."""
    dataset = result.dataset
    split = "test" if dataset.split("test") else "val"
    out: dict[str, list[str]] = {name: [] for name in dataset.class_names}
    for sample in dataset.split(split):
        out[dataset.class_names[sample.label]].append(sample.path)
    return out
