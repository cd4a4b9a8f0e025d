"""One likely label error in the Results page's review gallery: the picture, the label it has and
the one it looks like with both probabilities, and what the user can do about it: relabel (as
the suggested class or another), leave out, keep, or, from "More", move the file into the
suggested class's folder. Once decided, the card says what was done and offers Undo."""

from __future__ import annotations

import os
from typing import Optional, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QMenu, QPushButton,
                               QToolButton, QVBoxLayout, QWidget)

from transfer_gui.core.doctor import LabelFinding
from transfer_gui.core.data.splits import SPLIT_WORDS
from transfer_gui.ui.data.doctor_rows import ThumbnailHub

CARD_WIDTH = 372  # px: three cards side by side in the dialog on a 1366 px screen


def _elide(widget: QWidget, text: str, width: int) -> str:
    return widget.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, width)


class LabelCard(QFrame):
    """A finding and its decision. Signals carry the picture's path (and a class name)."""

    relabelRequested = Signal(str, str)  # path, class
    leaveOutRequested = Signal(str)
    keepRequested = Signal(str)
    moveRequested = Signal(str, str)  # path, class: move the file (asks first)
    undoRequested = Signal(str)

    def __init__(self, rank: int, finding: LabelFinding, root: str, classes: Sequence[str],
                 hub: ThumbnailHub, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent, objectName="finding", frameShape=QFrame.Shape.StyledPanel)
        self.finding, self.path = finding, finding.picture.path
        self.setFixedWidth(CARD_WIDTH)
        picture, suggested = finding.picture, finding.suggested
        image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, toolTip=self.path)
        image.setFixedSize(hub.size, hub.size)
        hub.want(self.path, image)
        text_width = CARD_WIDTH - hub.size - 36
        rel = os.path.relpath(self.path, root)
        name_width = text_width - 4
        self.given = QLabel(self.tr("#{0} · labelled ({1:.0%}):<br><b>{2}</b>").format(
            rank, finding.given_probability, _elide(self, picture.class_name, name_width)))
        self.given.setToolTip(self.tr("The class of the folder this picture is in ({0}), and "
                                      "the probability the model gives it").format(
            picture.class_name))
        self.suggested = QLabel(self.tr("looks like ({0:.0%}):<br><b>{1}</b>").format(
            finding.suggested_probability, _elide(self, suggested, name_width)))
        self.suggested.setToolTip(self.tr(
            "The class a model that never saw this picture gives it ({0}), and its "
            "probability").format(suggested))
        where = QLabel(_elide(self, f"{SPLIT_WORDS.get(picture.split, picture.split)} · {rel}",
                              text_width), toolTip=self.path)
        where.setStyleSheet("color: palette(dark);")
        self.status = QLabel(objectName="done", wordWrap=True)
        self.undo_button = QPushButton(self.tr("Undo"), toolTip=self.tr("Take this decision "
                                                                        "back"))
        self.undo_button.clicked.connect(lambda: self.undoRequested.emit(self.path))
        self.relabel_button = QPushButton(_elide(self, self.tr("Relabel as {0}").format(
            suggested), CARD_WIDTH - 40), toolTip=self.tr("Count this picture as '{0}' from now on (the "
                                              "file stays where it is)").format(suggested))
        self.relabel_button.clicked.connect(lambda: self.relabelRequested.emit(self.path,
                                                                               suggested))
        leave = QPushButton(self.tr("Leave out"), toolTip=self.tr(
            "Leave this picture out of training and scoring (the file stays where it is)"))
        leave.clicked.connect(lambda: self.leaveOutRequested.emit(self.path))
        keep = QPushButton(self.tr("Keep"), toolTip=self.tr("The label is right: keep it"))
        keep.clicked.connect(lambda: self.keepRequested.emit(self.path))
        more = QToolButton(text=self.tr("More"), toolTip=self.tr("Another class, or move the "
                                                                 "file"),
                           popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(more)
        others = self.menu.addMenu(self.tr("Relabel as"))
        for name in classes:
            if name not in (picture.class_name, suggested):
                others.addAction(name, lambda n=name: self.relabelRequested.emit(self.path, n))
        others.setEnabled(not others.isEmpty())
        self.move_action = self.menu.addAction(
            self.tr("Move the file into the '{0}' folder…").format(suggested),
            lambda: self.moveRequested.emit(self.path, suggested))
        more.setMenu(self.menu)
        self.buttons = QWidget()
        row = QHBoxLayout(self.buttons)
        row.setContentsMargins(0, 0, 0, 0)
        for button in (leave, keep, more):
            row.addWidget(button)
        row.addStretch(1)
        self.buttons_holder = QWidget()
        column = QVBoxLayout(self.buttons_holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.relabel_button)
        column.addWidget(self.buttons)
        done = QWidget()
        done_row = QHBoxLayout(done)
        done_row.setContentsMargins(0, 0, 0, 0)
        done_row.addWidget(self.status, 1)
        done_row.addWidget(self.undo_button, 0, Qt.AlignmentFlag.AlignTop)
        self.done_box = done
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 8, 8, 8)
        grid.addWidget(image, 0, 0, 4, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.given, 0, 1)
        grid.addWidget(self.suggested, 1, 1)
        grid.addWidget(where, 2, 1)
        grid.setRowStretch(3, 1)
        grid.addWidget(self.buttons_holder, 4, 0, 1, 2)
        grid.addWidget(self.done_box, 5, 0, 1, 2)
        self.show_decision("")

    def show_decision(self, text: str) -> None:
        """What was decided for this picture ("" for nothing yet: the actions show)."""
        self.status.setText(text)
        self.done_box.setVisible(bool(text))
        self.buttons_holder.setVisible(not text)
