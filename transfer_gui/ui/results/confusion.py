"""The confusion matrix as a table.

Rows are true classes, columns predicted classes. A cell's colour is its count divided by its
row's total: green on the diagonal (right answers), red off it (mistakes), stronger for larger
shares, so a weak class or a common mix-up stands out at a glance.

Short class names head the columns as they are; longer ones would leave columns of "Spec…", so
then the columns are numbered and each row reads "3 · its name" (cut short past ROW_HEADER_MAX
px). Every header's tooltip has the full name. A 10-class matrix fits a laptop screen.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, QModelIndex, QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QHeaderView, QStyle,
                               QStyledItemDelegate, QStyleOptionHeader, QStyleOptionViewItem,
                               QTableView, QWidget)


RIGHT = QColor(46, 160, 67)  # diagonal
WRONG = QColor(218, 54, 51)  # off-diagonal
STRETCH_UP_TO = 8  # classes; more than this and rows keep a fixed height (the view scrolls)
CELL = QSize(36, 30)  # px, the smallest cell (columns stretch to fill the width)
NAME_IN_COLUMN_MAX = 64  # px; a longer class name makes the columns numbered
ROW_HEADER_MAX = 200  # px; longer row names are cut short with "…"


def _mix(base: QColor, tint: QColor, amount: float) -> QColor:
    a = max(0.0, min(1.0, amount))
    return QColor(*(round(b + (t - b) * a) for b, t in zip(base.getRgb()[:3], tint.getRgb()[:3])))


def cell_color(base: QColor, fraction: float, diagonal: bool) -> QColor:
    """Background of a cell holding `fraction` of its row (0 keeps the base colour)."""
    return _mix(base, RIGHT if diagonal else WRONG, 0.12 + 0.78 * fraction if fraction > 0 else 0)


class _CellDelegate(QStyledItemDelegate):
    """Marks the selected cell with a frame, so its shading stays visible."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        plain = QStyleOptionViewItem(option)
        plain.state &= ~(QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus)
        super().paint(painter, plain, index)
        if selected:
            painter.save()
            painter.setPen(QPen(option.palette.highlight().color(), 3))
            painter.drawRect(option.rect.adjusted(2, 2, -2, -2))
            painter.restore()


class ConfusionMatrixView(QTableView):
    """Read-only confusion matrix. `cellActivated(true_index, predicted_index)` fires when a cell
    is clicked or reached with the keyboard."""

    cellActivated = Signal(int, int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._counts: list[list[int]] = []
        self._names: list[str] = []
        self._model = QStandardItemModel(self)
        self.setModel(self._model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCornerButtonEnabled(False)
        self.setItemDelegate(_CellDelegate(self))
        self.setToolTip(self.tr("Rows: true class. Columns: predicted class. "
                                "Click a cell to see its images."))
        self.selectionModel().currentChanged.connect(lambda current, _prev: self._emit(current))
        self.clicked.connect(self._on_clicked)
        self._current_at_press = QModelIndex()
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionsClickable(False)
            header.setHighlightSections(False)
            header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
            header.setTextElideMode(Qt.TextElideMode.ElideRight)
            header.setMinimumSectionSize(24)
        self._corner = self.findChild(QAbstractButton)
        if self._corner is not None:
            self._corner.installEventFilter(self)

    # ----------------------------------------------------------------- public API
    def set_matrix(self, counts: list[list[int]], class_names: list[str]) -> None:
        """Show `counts` (rows = true class, columns = predicted class)."""
        if len(counts) != len(class_names) or any(len(row) != len(class_names) for row in counts):
            raise ValueError("the confusion matrix must be square, one row per class name")
        self._counts = [[int(v) for v in row] for row in counts]
        self._names = list(class_names)
        n = len(class_names)
        self._model.clear()
        self._model.setRowCount(n)
        self._model.setColumnCount(n)
        base = self.palette().base().color()
        bold = QFont(self.font())
        bold.setBold(True)
        for t, row in enumerate(self._counts):
            total = sum(row)
            for p, count in enumerate(row):
                fraction = count / total if total else 0.0
                item = QStandardItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                background = cell_color(base, fraction, t == p)
                item.setBackground(background)
                if count:
                    item.setFont(bold)
                    dark = background.lightnessF() < 0.55
                    item.setForeground(QColor("white") if dark else self.palette().text().color())
                else:
                    item.setForeground(self.palette().placeholderText().color())
                item.setToolTip(self.cell_tooltip(t, p))
                self._model.setItem(t, p, item)
        numbered = self.numbered_columns(class_names)
        for i, name in enumerate(class_names):
            column = QStandardItem(str(i + 1) if numbered else name)
            column.setToolTip(self.tr("Predicted as '{0}'").format(name))
            self._model.setHorizontalHeaderItem(i, column)
            row = QStandardItem(f"{i + 1} · {name}" if numbered else name)
            row.setToolTip(self.tr("True class '{0}'").format(name))
            self._model.setVerticalHeaderItem(i, row)
        widest = max((self.fontMetrics().horizontalAdvance(self._model.horizontalHeaderItem(i)
                                                            .text()) for i in range(n)), default=0)
        columns = self.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        columns.setMinimumSectionSize(max(CELL.width(), widest + 12))
        rows = self.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed if n > STRETCH_UP_TO
                                  else QHeaderView.ResizeMode.Stretch)
        rows.setDefaultSectionSize(CELL.height())
        rows.setMinimumWidth(self._corner_width())
        rows.setMaximumWidth(max(ROW_HEADER_MAX, self._corner_width()))

    def numbered_columns(self, class_names: list[str]) -> bool:
        """Whether the columns are headed by numbers (some name is too long to head one)."""
        metrics = self.fontMetrics()
        return any(metrics.horizontalAdvance(name) > NAME_IN_COLUMN_MAX for name in class_names)

    def header_texts(self) -> tuple[list[str], list[str]]:
        """(column headers, row headers) as shown (for tests and checks)."""
        n = self._model.columnCount()
        return ([self._model.horizontalHeaderItem(i).text() for i in range(n)],
                [self._model.verticalHeaderItem(i).text() for i in range(n)])

    def total(self) -> int:
        return sum(map(sum, self._counts))

    def count(self, true_index: int, predicted_index: int) -> int:
        return self._counts[true_index][predicted_index]

    def select_cell(self, true_index: int, predicted_index: int) -> None:
        """Make a cell current, as a click would (emits cellActivated)."""
        self.setCurrentIndex(self._model.index(true_index, predicted_index))

    def cell_tooltip(self, t: int, p: int) -> str:
        count, true, pred = self._counts[t][p], self._names[t], self._names[p]
        total = sum(self._counts[t])
        share = 100.0 * count / total if total else 0.0
        images = self.tr("1 image") if count == 1 else self.tr("{0} images").format(count)
        if t == p:
            return self.tr("{0} of '{1}' predicted correctly ({2:.1f}% of {1})").format(
                images, true, share)
        return self.tr("{0} of '{1}' predicted as '{2}' ({3:.1f}% of {1})").format(
            images, true, pred, share)

    # ----------------------------------------------------------------- internals
    def mousePressEvent(self, event) -> None:
        self._current_at_press = QModelIndex(self.currentIndex())
        super().mousePressEvent(event)

    def _on_clicked(self, index: QModelIndex) -> None:
        if index == self._current_at_press:  # a new cell already emitted when it became current
            self._emit(index)

    def _emit(self, index: QModelIndex) -> None:
        if index.isValid():
            self.cellActivated.emit(index.row(), index.column())

    def _corner_text(self) -> str:
        return self.tr("true \\ predicted")

    def _corner_width(self) -> int:
        return self.fontMetrics().horizontalAdvance(self._corner_text()) + 16

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Paint an axis label in the top-left corner (Qt leaves it blank)."""
        if watched is self._corner and event.type() == QEvent.Type.Paint:
            option = QStyleOptionHeader()
            option.initFrom(self._corner)
            option.state |= QStyle.StateFlag.State_Enabled  # the button is disabled, not the label
            option.palette = self.horizontalHeader().palette()
            option.rect = self._corner.rect()
            option.text = self._corner_text()
            option.textAlignment = Qt.AlignmentFlag.AlignCenter
            option.position = QStyleOptionHeader.SectionPosition.OnlyOneSection
            painter = QPainter(self._corner)
            self.style().drawControl(QStyle.ControlElement.CE_Header, option, painter, self._corner)
            painter.end()
            return True
        return super().eventFilter(watched, event)
