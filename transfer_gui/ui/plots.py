"""Live training curves: loss and accuracy per epoch, and a smoothed batch loss.

Curves are created once and only `setData` is called, from a 10 Hz timer and only when new points
arrived, over preallocated arrays that double when full (pyqtgraph's fast-update examples), so
each update costs the same however long training runs.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget


class Series:
    """A growable (x, y) buffer; `view()` returns the filled part without copying."""

    def __init__(self, capacity: int = 256) -> None:
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.concatenate([self.x, np.empty_like(self.x)])
            self.y = np.concatenate([self.y, np.empty_like(self.y)])
        self.x[self.n], self.y[self.n] = x, y
        self.n += 1

    def clear(self) -> None:
        self.n = 0

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]


class TrainingPlots(QWidget):
    """Two plots side by side: loss (train, validation, smoothed batch) and accuracy."""

    SMOOTHING = 0.9  # exponential moving average of the batch loss

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = pg.PlotWidget(background="w")
        self.acc_plot = pg.PlotWidget(background="w")
        for plot, title, unit in ((self.loss_plot, self.tr("Loss"), ""),
                                  (self.acc_plot, self.tr("Accuracy"), "")):
            plot.setTitle(title, color="#333", size="11pt")
            plot.setLabel("bottom", self.tr("Epoch"))
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.addLegend(offset=(-10, 10) if plot is self.loss_plot else (-10, -10))
            plot.setClipToView(True)
            plot.setDownsampling(mode="peak")
            layout.addWidget(plot)
        self.acc_plot.setYRange(0, 1)
        self.loss_plot.setToolTip(self.tr("Lower is better. Validation loss rising while "
                                          "training loss falls means overfitting."))
        self.acc_plot.setToolTip(self.tr("Share of images classified correctly, per epoch."))
        self.series = {name: Series() for name in
                       ("batch_loss", "train_loss", "val_loss", "train_acc", "val_acc")}
        style = {
            "batch_loss": (self.loss_plot, self.tr("batch (smoothed)"), pg.mkPen("#bbb", width=1), None),
            "train_loss": (self.loss_plot, self.tr("training"), pg.mkPen("#1f77b4", width=2), "o"),
            "val_loss": (self.loss_plot, self.tr("validation"), pg.mkPen("#ff7f0e", width=2), "o"),
            "train_acc": (self.acc_plot, self.tr("training"), pg.mkPen("#1f77b4", width=2), "o"),
            "val_acc": (self.acc_plot, self.tr("validation"), pg.mkPen("#ff7f0e", width=2), "o"),
        }
        self.curves = {}
        for name, (plot, label, pen, symbol) in style.items():
            self.curves[name] = plot.plot([], [], name=label, pen=pen, symbol=symbol, symbolSize=5,
                                          symbolBrush=pen.color(), skipFiniteCheck=True)
        self._smoothed: Optional[float] = None
        self._dirty = False
        self.timer = QTimer(self)
        self.timer.setInterval(100)  # at most 10 repaints a second
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def add_batch(self, x: float, loss: float, batches: int = 1) -> None:
        """Add the mean loss of `batches` batches ending at epoch position `x`."""
        keep = self.SMOOTHING ** batches  # as if each of the batches had been added on its own
        self._smoothed = loss if self._smoothed is None else keep * self._smoothed + (1 - keep) * loss
        self.series["batch_loss"].append(x, self._smoothed)
        self._dirty = True

    def add_epoch(self, metrics: dict) -> None:
        epoch = metrics["epoch"]
        for name in ("train_loss", "val_loss", "train_acc", "val_acc"):
            if name in metrics:
                self.series[name].append(epoch, metrics[name])
        self._dirty = True

    def clear(self) -> None:
        for series in self.series.values():
            series.clear()
        self._smoothed = None
        self._dirty = True
        self.flush()

    def flush(self) -> None:
        """Push new points to the curves (the timer calls this; tests may too)."""
        if not self._dirty:
            return
        self._dirty = False
        for name, curve in self.curves.items():
            curve.setData(*self.series[name].view())

    def points(self, name: str) -> int:
        """How many points the named curve shows (after the last flush)."""
        x, _ = self.curves[name].getData()
        return 0 if x is None else len(x)
