"""The self-test's window steps: the real main window, the real worker threads, no shortcuts.

Driven the way a user would: open the generated dataset on the Data step, choose feature
extraction, train one epoch with the Start button, then explain a validation image in the CAM
panel. Each wait has a deadline, and a failure signal ends the wait at once with its message.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

import torch  # noqa: F401  (before PySide6, as the app does)
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, QThread, qVersion
from PySide6.QtGui import QGuiApplication

from transfer_gui.core.models import DEFAULT_BACKBONE

MODEL_STEP, SETTINGS_STEP, TRAIN_STEP = 1, 2, 3


def qt_versions() -> dict[str, str]:
    return {"qt": qVersion(), "pyside6": pyside_version}


def wait_until(predicate: Callable[[], bool], timeout_s: float,
               failure: Optional[Callable[[], Optional[str]]] = None) -> None:
    """Process events until `predicate()`; raise on timeout or when `failure()` has a message."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        message = failure() if failure else None
        if message:
            raise RuntimeError(message)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no result after {timeout_s:.0f} s")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)


def run_window_steps(report: Any, work: Path, timeout_s: float = 600.0) -> None:
    """Add the window steps to `report` (a transfer_gui.self_test.SelfTestReport)."""
    from .app import create_app
    from .main_window import MainWindow

    with report.step("main window") as detail:
        app = create_app(["transfer-gui"])
        settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, runs_root=work / "runs")
        window.show()
        QCoreApplication.processEvents()
        detail.update(platform=QGuiApplication.platformName(), visible=window.isVisible(),
                      size=[window.width(), window.height()])
        if app.windowIcon().isNull():  # resources/ missing or misplaced in a frozen build
            raise RuntimeError("the application icon did not load from resources/icons")
    try:
        _run_steps(report, window, work, timeout_s)
    finally:
        with report.step("close"):
            _close(window)


def _run_steps(report: Any, window, work: Path, timeout_s: float) -> None:
    with report.step("open dataset") as detail:
        window.data_page.open_folder(str(work / "data"))
        wait_until(lambda: window.state.dataset is not None, 60)
        dataset = window.state.dataset
        detail.update(classes=dataset.class_names,
                      images={split: len(dataset.split(split)) for split in ("train", "val")})

    with report.step("train one epoch") as detail:
        window.go_to(MODEL_STEP)
        window.model_page.mode_buttons["feature_extraction"].setChecked(True)
        if window.state.backbone != DEFAULT_BACKBONE or window.state.mode != "feature_extraction":
            raise RuntimeError(f"the Model step chose {window.state.backbone} / {window.state.mode}")
        window.go_to(SETTINGS_STEP)
        window.settings_page.epochs.setValue(1)
        window.go_to(TRAIN_STEP)
        page, finished, failed, threads = window.train_page, [], [], []
        page.trainingFinished.connect(finished.append)
        page.runner.failed.connect(lambda message, _details: failed.append(message))
        page.runner.started.connect(
            lambda: threads.append(page.runner._thread.objectName() if page.runner._thread else ""))
        page.start_button.click()
        wait_until(lambda: bool(finished), timeout_s, lambda: failed[0] if failed else None)
        result = finished[0]
        if result is None or result.best is None or not result.model_path.is_file():
            raise RuntimeError("training ended without a saved model")
        detail.update(worker_thread=threads[0] if threads else None,
                      epochs=len(result.history), val_acc=round(result.best["val_acc"], 4),
                      model=str(result.model_path))

    with report.step("grad-cam") as detail:
        image = result.dataset.split("val")[0].path
        window.open_in_cam(image)
        panel, explained = window.cam_panel, []
        panel.explained.connect(explained.append)
        wait_until(lambda: bool(explained), 120,
                   lambda: panel.info.text() if panel.info.text().startswith("Failed") else None)
        item = explained[0]
        cam = item.explanation.map_original
        if not (torch.isfinite(torch.as_tensor(cam)).all() and 0 <= cam.min() <= cam.max() <= 1):
            raise RuntimeError("the Grad-CAM map is not a finite map in [0, 1]")
        detail.update(method=panel.method.currentText(), image=image,
                      predicted=item.explanation.predicted_name, map_shape=list(cam.shape))


def _close(window) -> None:
    """Close like the user would (no unsaved-runs prompt: the work folder is thrown away)."""
    window.projects.dirty = False
    if window.cam_panel is not None:
        window.cam_panel.close()
    window.close()
    QCoreApplication.processEvents()
    running = [t.objectName() for t in window.findChildren(QThread) if t.isRunning()]
    if running:
        raise RuntimeError(f"threads still running after close: {running}")
