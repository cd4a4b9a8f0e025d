"""Live training curves: loss and accuracy per epoch, and a smoothed batch loss.

Curves are created once and only `setData` is called, from a 10 Hz timer and only when new points
arrived, over preallocated arrays that double when full (pyqtgraph's fast-update examples), so
each update costs the same however long training runs.

Axes: epochs are whole numbers (`EpochAxis`: integer ticks only, so an empty plot never shows
epochs 0.1-0.9), accuracy reads in percent (`PercentAxis`), and no axis gets pyqtgraph's
automatic scale prefix ("Loss (x0.001)" running 100-400 reads as nonsense to a newcomer).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QTimer
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


class EpochAxis(pg.AxisItem):
    """An axis of epochs: ticks on whole numbers only, labelled without decimals or prefix."""

    def __init__(self, orientation: str = "bottom", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        levels = super().tickValues(minVal, maxVal, size)
        out = []
        for spacing, values in levels:
            if spacing < 1:  # a finer level would sit between whole epochs
                continue
            spacing = float(max(1, round(spacing)))
            out.append((spacing, [v for v in values if abs(v - round(v)) < 1e-6]))
        if not out:  # a short range (or an empty plot): every whole epoch in view
            first, last = math.ceil(minVal - 1e-9), math.floor(maxVal + 1e-9)
            out.append((1.0, [float(v) for v in range(first, last + 1)]))
        return out

    def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:
        return [str(int(round(v))) for v in values]


class PercentAxis(pg.AxisItem):
    """An accuracy axis: shares of 1 shown as percentages, without a scale prefix."""

    def __init__(self, orientation: str = "left", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:
        decimals = 0 if spacing >= 0.01 else 1
        return [f"{v * 100:.{decimals}f}%" for v in values]


def plain_axis(orientation: str = "left") -> pg.AxisItem:
    """A value axis without pyqtgraph's automatic scale prefix."""
    axis = pg.AxisItem(orientation)
    axis.enableAutoSIPrefix(False)
    return axis


def epoch_plot(title: str, value_label: str, percent: bool = False) -> pg.PlotWidget:
    """A white plot of a value per epoch, with readable axes (see the module's docstring)."""
    plot = pg.PlotWidget(background="w", axisItems={
        "bottom": EpochAxis(), "left": PercentAxis() if percent else plain_axis()})
    plot.setTitle(title, color="#333", size="11pt")
    plot.setLabel("bottom", QCoreApplication.translate("plots", "Epoch"))
    plot.setLabel("left", value_label)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setXRange(0, 1, padding=0.02)
    return plot


class TrainingPlots(QWidget):
    """Two plots side by side: loss (train, validation, smoothed batch) and accuracy."""

    SMOOTHING = 0.9  # exponential moving average of the batch loss

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = epoch_plot(self.tr("Loss"), self.tr("Loss"))
        self.acc_plot = epoch_plot(self.tr("Accuracy"), self.tr("Accuracy"), percent=True)
        for plot in (self.loss_plot, self.acc_plot):
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

    def clear(self, epochs: Optional[int] = None) -> None:
        """Empty every curve for a new run; the epoch axes then span 0 to `epochs` (the run's
        maximum), so nothing of the previous run's axis is left."""
        for series in self.series.values():
            series.clear()
        self._smoothed = None
        self._dirty = True
        self.flush()
        self.set_epochs(epochs or 1)

    def set_epochs(self, epochs: int) -> None:
        """Show epochs 0 to `epochs` on both plots (the loss axis follows its values)."""
        for plot in (self.loss_plot, self.acc_plot):
            plot.setXRange(0, max(int(epochs), 1), padding=0.02)
        if not self.series["train_loss"].n and not self.series["batch_loss"].n:
            self.loss_plot.setYRange(0, 1)  # nothing yet: not the previous run's loss range
        self.loss_plot.enableAutoRange(axis="y")

    def x_range(self) -> tuple[float, float]:
        """The epochs the plots show (both share it)."""
        low, high = self.acc_plot.getViewBox().viewRange()[0]
        return low, high

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
