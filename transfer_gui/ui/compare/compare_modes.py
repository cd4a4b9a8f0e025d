"""Compare modes: feature extraction, fine-tuning and from scratch on the same data and backbone,
trained one after the other in one background job (`compare_modes_job`).

`ModeComparison` is the Compare window's part that runs it: the "Compare modes" button, the
progress row with Stop, and the job's signals. Each finished run joins the window's table as soon
as it is written, and is announced by the window's `runTrained` signal (the main window adds it
to the project, as it does for a run trained on the Train page).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from transfer_gui.core.errors import Cancelled
from transfer_gui.core.jobs import Progress
from transfer_gui.core.training.config import MODES, TrainConfig
from transfer_gui.ui.workers import TaskRunner


def _unique_dir(root: Path, name: str) -> Path:
    path, n = root / name, 2
    while path.exists():
        path, n = root / f"{name}-{n}", n + 1
    return path


def compare_modes_job(state, data_dir: str, backbone: str, runs_root: str | Path,
                      overrides: Optional[dict[str, Any]] = None) -> list[Path]:
    """Runs in the worker thread: one training run per mode, same data and backbone.

    Emits ("run_done", TrainingResult) after each run; honours `state.cancel` between and within
    runs (a run stopped midway is still reported, with the epochs it finished).

    Returns:
        The run folders, in mode order.
    """
    overrides = dict(overrides or {})
    from transfer_gui.core.training.engine import train_run

    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    configs = [TrainConfig.for_mode(str(data_dir), mode, backbone=backbone, **overrides)
               for mode in MODES]  # every config is checked before the first run starts
    done: list[Path] = []
    for i, config in enumerate(configs):
        state.cancel.raise_if_cancelled()
        label = config.mode.replace("_", " ")
        start, end = i / len(configs), (i + 1) / len(configs)

        def report(p: Progress, label=label, start=start, end=end, i=i) -> None:
            fraction = None if p.fraction is None else start + (end - start) * p.fraction
            state.progress(Progress(fraction, f"{label} ({i + 1}/{len(configs)}): {p.message}",
                                    p.eta_seconds, p.stage, p.done, p.total))

        report(Progress(0.0, "starting"))
        run_dir = _unique_dir(root, f"{stamp}_{backbone}_{config.mode}")
        result = train_run(config, run_dir, progress=report, cancel=state.cancel)
        done.append(Path(result.run_dir) if getattr(result, "run_dir", None) else run_dir)
        state.emit("run_done", result)
        if state.cancel.cancelled or getattr(result, "cancelled", False):
            raise Cancelled()
    return done


class ModeComparison:
    """Mixin for `CompareView`: the "Compare modes" button, its progress row and its job.

    The view provides `status` (a QLabel), `add_button`, `add_runs(paths)`, `runTrained` (a
    signal carrying a TrainingResult) and `_app_state` / `_app_runs_root` (set by bind_state).
    """

    def _init_mode_comparison(self) -> None:
        """Make the runner and the widgets (call before laying them out)."""
        self._source: Optional[tuple[str, str, Path, dict]] = None
        self.runner = TaskRunner(self)
        self.runner.progress.connect(self._on_progress)
        self.runner.event.connect(self._on_event)
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self._on_failed)

        self.compare_button = QPushButton(self.tr("Compare modes"))
        self.compare_button.setToolTip(self.tr(
            "Train feature extraction, fine-tuning and from scratch on the same data and "
            "backbone, one after the other, and compare them here."))
        self.compare_button.setDefault(True)
        self.compare_button.clicked.connect(self._compare_clicked)

        running = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setToolTip(self.tr("Progress of the mode comparison (all three runs)."))
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop the comparison; runs already finished stay "
                                            "in the table."))
        self.stop_button.clicked.connect(self.stop)
        running.addWidget(self.progress_bar, 1)
        running.addWidget(self.stop_button)
        running.setContentsMargins(0, 0, 0, 0)
        self.running_row = QWidget()
        self.running_row.setLayout(running)

    def set_source(self, data_dir: Optional[str], backbone: Optional[str],
                   runs_root: Optional[str | Path], overrides: Optional[dict] = None) -> None:
        """What the "Compare modes" button trains on (the lead may bind an AppState instead)."""
        self._source = ((str(data_dir), backbone, Path(runs_root), dict(overrides or {}))
                        if data_dir and backbone and runs_root else None)
        self._update_buttons()

    def _current_source(self) -> Optional[tuple[str, str, Path, dict]]:
        if self._app_state is not None and self._app_state.data_dir:
            s = self._app_state
            keep = {k: v for k, v in s.settings.items() if k in ("epochs", "batch_size", "seed",
                                                                 "device", "val_fraction",
                                                                 "test_fraction", "split_seed")}
            return (s.data_dir, s.backbone, self._app_runs_root, keep)
        return self._source

    def _update_buttons(self) -> None:
        running = self.runner.is_running()
        self.compare_button.setEnabled(not running and self._current_source() is not None)
        self.add_button.setEnabled(not running)
        if self._current_source() is None and not running:
            self.compare_button.setToolTip(self.tr("Choose a dataset and a backbone first; then "
                                                   "this trains all three transfer modes on it "
                                                   "and compares them here."))
        else:
            self.compare_button.setToolTip(self.tr(
                "Train feature extraction, fine-tuning and from scratch on the same data and "
                "backbone, one after the other, and compare them here."))

    def _compare_clicked(self) -> None:
        source = self._current_source()
        if source is not None:
            self.compare_modes(*source)

    def is_running(self) -> bool:
        return self.runner.is_running()

    def compare_modes(self, data_dir: str | Path, backbone: str, runs_root: str | Path,
                      overrides: Optional[dict] = None) -> None:
        """Train the three modes one after the other in the background; runs join the table."""
        self.progress_bar.setValue(0)
        self.status.setText(self.tr("Comparing modes on %1 with %2…")
                            .replace("%1", Path(data_dir).name or str(data_dir))
                            .replace("%2", backbone))
        self.running_row.show()
        self.stop_button.setEnabled(True)
        self.runner.start(compare_modes_job, str(data_dir), backbone, Path(runs_root),
                          dict(overrides or {}))
        self._update_buttons()

    def stop(self) -> None:
        """Stop the comparison at the next batch; finished runs stay."""
        if self.runner.is_running():
            self.stop_button.setEnabled(False)
            self.status.setText(self.tr("Stopping…"))
            self.runner.cancel()

    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(round(progress.fraction * 1000)))
        self.status.setText(progress.message)

    def _on_event(self, name: str, payload: Any) -> None:
        if name == "run_done":
            self.add_runs([getattr(payload, "run_dir", payload)])
            if getattr(payload, "best", None) is not None:  # it saved a model
                self.runTrained.emit(payload)

    def _end(self, message: str) -> None:
        self.running_row.hide()
        self.progress_bar.setRange(0, 1000)
        self.status.setText(message)
        self._update_buttons()

    def _on_finished(self, result: Any) -> None:
        self._end(self.tr("Mode comparison finished: %1 runs.").replace(
            "%1", str(len(result or []))))

    def _on_cancelled(self, result: Any) -> None:
        self._end(self.tr("Mode comparison stopped. Finished runs are kept."))

    def _on_failed(self, message: str, details: str) -> None:
        self._end(self.tr("Mode comparison failed: ") + message)
        self.status.setToolTip(details or message)

    def shutdown(self) -> bool:
        """Stop the background job and wait for it (call when the window closes)."""
        return self.runner.shutdown()
