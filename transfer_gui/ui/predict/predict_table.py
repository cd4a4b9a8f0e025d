"""The Predict page's results table: a row per prediction, with its thumbnail and flag.

Rows unlike the training data read "not like any training class" (lilac, whatever their
confidence), rows below the confidence threshold are flagged (amber) and unreadable images marked
(red); `set_threshold` re-flags every row at once, without predicting again. Thumbnails load
off the GUI thread (`ThumbnailLoader`) and replace a placeholder tile as they arrive.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap, QValidator
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QHeaderView, QTableWidget,
                               QTableWidgetItem, QWidget)

from transfer_gui.core.ood import FLAG_WORDS, SCORE_HELP
from transfer_gui.core.predict import Prediction

from .predict_rows import flag_for, score_text, top_text
from transfer_gui.ui.thumbnails import ThumbnailLoader, placeholder_pixmap, square_pixmap

THUMB = 40

COL_THUMB, COL_FILE, COL_PREDICTED, COL_CONFIDENCE, COL_TOP, COL_UNLIKE, COL_FLAG = range(7)

UNCERTAIN_BG = QColor(0xFF, 0xF1, 0xCC)  # amber
UNLIKE_BG = QColor(0xEB, 0xE3, 0xF7)  # lilac
ERROR_BG = QColor(0xFB, 0xE0, 0xDD)  # soft red


class _ConfidenceItem(QTableWidgetItem):
    """A confidence (or score) cell: shows a percentage (or `text`), sorts by value."""

    def __init__(self, value: Optional[float], text: Optional[str] = None) -> None:
        super().__init__(text if text is not None else
                         "" if value is None else f"{value * 100:.1f}%")
        self.setData(Qt.ItemDataRole.UserRole, -1.0 if value is None else float(value))
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.data(Qt.ItemDataRole.UserRole) < other.data(Qt.ItemDataRole.UserRole)


class ThresholdBox(QDoubleSpinBox):
    """The confidence threshold, shown and typed as a percentage ("70%") like the Confidence
    column and the summary under the table; value() stays a probability from 0 to 1."""

    def __init__(self, value: float, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent, minimum=0.0, maximum=1.0, singleStep=0.05, decimals=3)
        self.setSuffix("%")
        self.setValue(value)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt name)
        return f"{value * 100:g}"

    def _percent(self, text: str) -> Optional[float]:
        body = text.strip().removesuffix("%").strip().replace(",", ".")
        try:
            return float(body)
        except ValueError:
            return None

    def valueFromText(self, text: str) -> float:  # noqa: N802
        percent = self._percent(text)
        return self.value() if percent is None else percent / 100

    def validate(self, text: str, pos: int) -> QValidator.State:
        percent = self._percent(text)
        if percent is None:
            return (QValidator.State.Intermediate if text.strip().removesuffix("%").strip()
                    in ("", "-", ".", ",") else QValidator.State.Invalid)
        return (QValidator.State.Acceptable if 0 <= percent <= 100
                else QValidator.State.Intermediate if percent > 100 else QValidator.State.Invalid)


class PredictionTable(QTableWidget):
    """The table of predictions, in the order they arrived.

    Attributes:
        predictions: The prediction of each row, in row order.
    """

    imageActivated = Signal(str)  # path of a double-clicked, readable image

    def __init__(self, threshold: float, parent: Optional[QWidget] = None) -> None:
        """Builds an empty table.

        Args:
            threshold: Confidence below which rows are flagged as uncertain.
            parent: The owning widget.
        """
        super().__init__(0, 7, parent)
        self.predictions: list[Prediction] = []
        self._threshold = threshold
        self._rows: dict[str, int] = {}  # path -> row
        self._thumbs: dict[str, QPixmap] = {}
        self._thumb_failed: set[str] = set()
        self._loading_icon: Optional[QIcon] = None
        self.thumbnails = ThumbnailLoader(self)
        self.thumbnails.thumbnailReady.connect(self._on_thumb)
        self.thumbnails.thumbnailFailed.connect(self._on_thumb_failed)

        self.setHorizontalHeaderLabels(["", self.tr("File"), self.tr("Predicted"),
                                        self.tr("Confidence"), self.tr("Top 3"),
                                        self.tr("Unlike training"), self.tr("Flag")])
        self.horizontalHeaderItem(COL_UNLIKE).setToolTip(self.tr(SCORE_HELP))
        self.setToolTip(self.tr("Double-click a row to open the image in the class "
                                "activation map view"))
        self.setIconSize(QSize(THUMB, THUMB))
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(THUMB + 8)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(False)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(COL_THUMB, QHeaderView.ResizeMode.Fixed)
        self.setColumnWidth(COL_THUMB, THUMB + 12)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_PREDICTED, 160), (COL_CONFIDENCE, 96), (COL_TOP, 250),
                           (COL_UNLIKE, 110), (COL_FLAG, 190)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.setColumnWidth(col, width)
        self.cellDoubleClicked.connect(self._on_double_click)

    # ------------------------------------------------------------------ rows
    def paths(self) -> list[str]:
        """Returns the image paths of the rows, in row order."""
        return list(self._rows)

    def append_predictions(self, predictions: Sequence[Prediction]) -> None:
        """Adds a row per prediction, flagged against the current threshold."""
        if self._loading_icon is None:
            self._loading_icon = QIcon(placeholder_pixmap(THUMB, self))
        self.setUpdatesEnabled(False)
        for p in predictions:
            row = self.rowCount()
            self.insertRow(row)
            self.predictions.append(p)
            self._rows[p.path] = row
            for col, item in enumerate(self._row_items(p)):
                self.setItem(row, col, item)
            self._flag_row(row)
        self.setUpdatesEnabled(True)
        shown = max((len(p.top) for p in predictions if not p.error), default=0)
        if shown:  # "Top 2" for a two-class model, whose rows show two classes
            self.horizontalHeaderItem(COL_TOP).setText(self.tr("Top {0}").format(shown))

    def clear_predictions(self) -> None:
        """Removes every row (thumbnails already loaded are kept for later rows)."""
        self.predictions.clear()
        self._rows.clear()
        self.setRowCount(0)

    def _row_items(self, p: Prediction) -> list[QTableWidgetItem]:
        """Returns the cells of a row for `p`, in column order."""
        thumb = QTableWidgetItem()
        thumb.setIcon(self._icon_for(p.path))
        thumb.setToolTip(p.path)
        name = QTableWidgetItem(os.path.basename(p.path))
        name.setToolTip(p.path)
        name.setData(Qt.ItemDataRole.UserRole, p.path)
        if p.error:
            predicted = QTableWidgetItem(p.error)
            predicted.setToolTip(self.tr("Could not read this image: ") + p.error)
            predicted.setForeground(QBrush(QColor(0xB3, 0x26, 0x1E)))
            confidence = _ConfidenceItem(None)
            top = QTableWidgetItem("")
            unlike = _ConfidenceItem(None)
        else:
            predicted = QTableWidgetItem(p.predicted)
            predicted.setToolTip(p.predicted)
            confidence = _ConfidenceItem(p.probability)
            top = QTableWidgetItem(top_text(p))
            top.setToolTip("\n".join(f"{name}: {q:.1%}" for name, q in p.top))
            unlike = _ConfidenceItem(p.unlike_score, score_text(p))
            unlike.setToolTip(self.tr(SCORE_HELP) if p.unlike_score is not None else self.tr(
                "This model was saved without the \u201cunlike the training data\u201d check "
                "(an older model); train again to get it."))
        return [thumb, name, predicted, confidence, top, unlike, QTableWidgetItem()]

    # ------------------------------------------------------------------ flags
    def flag_of(self, row: int) -> str:
        """Returns "error", "unlike", "uncertain" or "" for row `row`."""
        return flag_for(self.predictions[row], self._threshold)

    def unlike_count(self) -> int:
        """Returns how many rows are not like any training class."""
        return sum(bool(p.unlike_training) for p in self.predictions)

    def uncertain_count(self) -> int:
        """Returns how many rows fall below the threshold (unreadable images excluded)."""
        return sum(not p.error and p.probability < self._threshold for p in self.predictions)

    def set_threshold(self, threshold: float) -> None:
        """Re-flags every row against a new confidence threshold."""
        self._threshold = threshold
        self.setUpdatesEnabled(False)
        for row in range(self.rowCount()):
            self._flag_row(row)
        self.setUpdatesEnabled(True)

    def _flag_row(self, row: int) -> None:
        flag = self.flag_of(row)
        item = self.item(row, COL_FLAG)
        if flag == "error":
            item.setText(self.tr("Error"))
            item.setToolTip(self.tr("The image could not be read"))
            brush = QBrush(ERROR_BG)
        elif flag == "unlike":
            item.setText(self.tr(FLAG_WORDS[:1].upper() + FLAG_WORDS[1:]))
            item.setToolTip(self.tr(
                "This image does not look like the training images of any class (its unlike-"
                "training score is above 1.0), so its class is only a guess. It may show "
                "something the model was never taught."))
            brush = QBrush(UNLIKE_BG)
        elif flag == "uncertain":
            item.setText(self.tr("Uncertain"))
            item.setToolTip(self.tr("Confidence below the threshold"))
            brush = QBrush(UNCERTAIN_BG)
        else:
            item.setText("")
            item.setToolTip("")
            brush = QBrush()
        item.setData(Qt.ItemDataRole.UserRole, flag)
        for col in range(self.columnCount()):
            cell = self.item(row, col)
            if cell is not None:
                cell.setBackground(brush)

    @Slot(int, int)
    def _on_double_click(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.predictions) and not self.predictions[row].error:
            self.imageActivated.emit(self.predictions[row].path)

    # ------------------------------------------------------------------ thumbnails
    def request_thumbnails(self, pending: Sequence[str]) -> None:
        """Asks for the thumbnails still missing, of the rows and then of `pending` paths.

        A new request replaces the loader's last one.
        """
        wanted = [p for p in [*self._rows, *pending]
                  if p not in self._thumbs and p not in self._thumb_failed]
        if wanted:
            self.thumbnails.request(wanted, THUMB)

    def has_thumbnail(self, row: int) -> bool:
        """Returns whether row `row` shows its image's thumbnail yet."""
        return self.predictions[row].path in self._thumbs

    def shutdown(self) -> None:
        """Stops loading thumbnails and waits for the loading thread."""
        self.thumbnails.shutdown()

    def _icon_for(self, path: str) -> QIcon:
        if path in self._thumbs:
            return QIcon(self._thumbs[path])
        if path in self._thumb_failed:
            return QIcon(placeholder_pixmap(THUMB, self, broken=True))
        return self._loading_icon

    @Slot(str, QImage)
    def _on_thumb(self, path: str, image: QImage) -> None:
        self._thumbs[path] = square_pixmap(image, THUMB)
        row = self._rows.get(path)
        if row is not None:
            self.item(row, COL_THUMB).setIcon(QIcon(self._thumbs[path]))

    @Slot(str, str)
    def _on_thumb_failed(self, path: str, reason: str) -> None:
        self._thumb_failed.add(path)
        row = self._rows.get(path)
        if row is not None:
            self.item(row, COL_THUMB).setIcon(self._icon_for(path))
