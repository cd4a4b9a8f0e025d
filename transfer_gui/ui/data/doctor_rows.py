"""One finding of the data doctor on screen: what is wrong in plain words, its pictures' thumbnails
side by side (split, class and file name under each), the actions that fix it, and, once fixed,
what was done with an Undo. The rows of "Check data" (doctor_dialog.py) are these."""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QStyle, QStyleOptionComboBox, QStylePainter, QVBoxLayout, QWidget)

from transfer_gui.core.data.corrections import DataCorrections
from transfer_gui.core.data.splits import SPLIT_WORDS
from transfer_gui.core.doctor import DoctorReport, OddPicture, Picture
from transfer_gui.ui.thumbnails import ThumbnailLoader, placeholder_pixmap, square_pixmap

THUMB = 112  # px, side of a finding's thumbnails
COMBO_CHARS = 40  # a class name longer than this is elided in a row's class box


PIXEL_REASONS = ("almost uniform", "very dark", "very bright")  # before "unlike every class"


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def split_words(pictures: Sequence[Picture]) -> str:
    """The splits of `pictures` in words: "validation", "test", "validation and test"."""
    return " and ".join(sorted({SPLIT_WORDS.get(p.split, p.split) for p in pictures},
                               reverse=True))


def odd_by_picture(odd_pictures: Sequence[OddPicture]) -> list[list[OddPicture]]:
    """The odd-picture findings grouped by picture (in the order first found), each group's
    reasons with what is wrong with the pixels first: a nearly black picture is both "almost
    uniform" and "unlike every class", and shows as one finding with one "Leave out"."""
    groups: dict[str, list[OddPicture]] = {}
    for odd in odd_pictures:
        groups.setdefault(odd.picture.path, []).append(odd)
    return [sorted(g, key=lambda o: o.reason not in PIXEL_REASONS) for g in groups.values()]


def summary_words(report: DoctorReport) -> str:
    """The report's first line in plain words, with plurals ("1 leak", "no copies")."""
    copies = plural(len(report.copy_groups), "group of copies", "groups of copies")
    kinds = [plural(n, one, many) for n, one, many in (
        (len(report.leaks), "leak", "leaks"),
        (len(report.conflicts), "label conflict", "label conflicts")) if n]
    if kinds:
        copies += f" ({', '.join(kinds)})"
    if not report.copy_groups:
        copies = "no copies"
    labels = plural(len(report.label_findings), "likely label error", "likely label errors")
    odd = plural(len(odd_by_picture(report.odd_pictures)), "odd picture", "odd pictures")
    return f"{copies}, {labels} and {odd}"


class ThumbnailHub(QObject):
    """Thumbnails for many labels: each path is decoded once (off the GUI thread) and shown on
    every label that asked for it."""

    def __init__(self, size: int, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.size = size
        self.loader = ThumbnailLoader(self)
        self.loader.thumbnailReady.connect(self._on_ready)
        self.loader.thumbnailFailed.connect(self._on_failed)
        self._labels: dict[str, list[QLabel]] = {}
        self._pixmaps: dict[str, QPixmap] = {}

    def want(self, path: str, label: QLabel) -> None:
        label.setPixmap(self._pixmaps.get(path) or placeholder_pixmap(self.size, label))
        self._labels.setdefault(path, []).append(label)

    def load(self) -> None:
        """Decode the thumbnails asked for and not made yet."""
        missing = [p for p in self._labels if p not in self._pixmaps]
        if missing:
            self.loader.request(missing, self.size)

    def forget_labels(self) -> None:
        self.loader.cancel()
        self._labels.clear()

    def shown(self) -> int:
        """How many of the wanted thumbnails are on screen."""
        return sum(1 for p in self._labels if p in self._pixmaps)

    def _on_ready(self, path: str, image: QImage) -> None:
        self._set(path, square_pixmap(image, self.size))

    def _on_failed(self, path: str, reason: str) -> None:
        labels = self._labels.get(path, [])
        for label in labels:
            label.setToolTip(f"{label.toolTip()}\n{reason}")
        if labels:
            self._set(path, placeholder_pixmap(self.size, labels[0], broken=True))

    def _set(self, path: str, pixmap: QPixmap) -> None:
        self._pixmaps[path] = pixmap
        for label in self._labels.get(path, []):
            label.setPixmap(pixmap)


def picture_tile(picture: Picture, root: str, hub: ThumbnailHub) -> QWidget:
    """A thumbnail with the picture's split, class and file name under it (full path on hover)."""
    tile = QWidget()
    image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
    image.setFixedSize(hub.size, hub.size)
    rel = os.path.relpath(picture.path, root)
    tip = f"{picture.path}\n{SPLIT_WORDS.get(picture.split, picture.split)} · {picture.class_name}"
    image.setToolTip(tip)
    hub.want(picture.path, image)
    caption = QLabel(alignment=Qt.AlignmentFlag.AlignHCenter, toolTip=tip)
    metrics = caption.fontMetrics()
    width = hub.size + 60
    lines = [(SPLIT_WORDS.get(picture.split, picture.split), Qt.TextElideMode.ElideRight),
             (picture.class_name, Qt.TextElideMode.ElideRight),
             (os.path.basename(rel), Qt.TextElideMode.ElideMiddle)]
    caption.setText("\n".join(metrics.elidedText(line, mode, width - 4) for line, mode in lines))
    caption.setFixedWidth(width)
    layout = QVBoxLayout(tile)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(image, 0, Qt.AlignmentFlag.AlignHCenter)
    layout.addWidget(caption)
    return tile


class ElidedCombo(QComboBox):
    """A combo box that shows a long current item with "…" at the end instead of cutting it."""

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideRight, field.width())
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


class FindingRow(QFrame):
    """A finding: its problem in words, its pictures side by side, its actions; after an
    action, what was done and an Undo (which removes those corrections)."""

    undoRequested = Signal(list)  # the paths whose corrections to remove

    def __init__(self, title: str, detail: str, pictures: Sequence[Picture], root: str,
                 hub: ThumbnailHub, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent, objectName="finding", frameShape=QFrame.Shape.StyledPanel)
        self.pictures, self.root = list(pictures), root
        self.title = QLabel(f"<b>{title}</b>", wordWrap=True)
        self.detail = QLabel(detail, wordWrap=True)
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        tiles = QHBoxLayout()
        tiles.setSpacing(10)
        for picture in self.pictures:
            tiles.addWidget(picture_tile(picture, root, hub))
        if len(self.pictures) > 1:
            tiles.addStretch(1)
        self.actions = QHBoxLayout()
        self.actions.setContentsMargins(0, 0, 0, 0)
        self.action_box = QWidget()
        self.action_box.setLayout(self.actions)
        self.status = QLabel(objectName="done", wordWrap=True)
        self.undo_button = QPushButton(self.tr("Undo"), toolTip=self.tr(
            "Take back this correction: the pictures count as before"))
        self.undo_button.clicked.connect(lambda: self.undoRequested.emit(
            [p.path for p in self.pictures]))
        done = QHBoxLayout()
        done.addWidget(self.status, 1)
        done.addWidget(self.undo_button)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.detail)
        if len(self.pictures) > 1:  # the pictures side by side, under what is wrong
            text.addLayout(tiles)
            text.addWidget(self.action_box)
            text.addLayout(done)
            self.setLayout(text)
        else:  # one picture: its thumbnail beside the words, a third of the height
            text.addWidget(self.action_box)
            text.addLayout(done)
            text.addStretch(1)
            row = QHBoxLayout(self)
            row.addLayout(tiles)
            row.addLayout(text, 1)
        self.layout().setContentsMargins(10, 8, 10, 8)

    def add_action(self, text: str, tip: str, handler: Callable[[], None]) -> QPushButton:
        button = QPushButton(text, toolTip=tip)
        button.clicked.connect(handler)
        self.actions.addWidget(button)
        return button

    def add_class_choice(self, classes: Sequence[str], handler: Callable[[str], None]) -> None:
        """"Keep as [class] ": relabel the group's pictures to the chosen class. A long class
        name is elided in the box (not widening the row past the dialog); its list and the
        tooltip show it whole."""
        combo = ElidedCombo(toolTip=self.tr("The class these pictures really show"))
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(min(COMBO_CHARS, max(map(len, classes), default=1)))
        combo.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        for name in classes:
            combo.addItem(name)
            combo.setItemData(combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
        combo.currentTextChanged.connect(lambda name: combo.setToolTip(self.tr(
            "The class these pictures really show: {0}").format(name)))
        combo.setToolTip(self.tr("The class these pictures really show: {0}").format(
            combo.currentText()))
        self.add_action(self.tr("Keep them all as"), self.tr(
            "Give every picture of this group the class chosen beside"),
                        lambda: handler(combo.currentText()))
        self.actions.addWidget(combo)

    def finish_actions(self) -> None:
        self.actions.addStretch(1)

    def focus_chain(self) -> list[QWidget]:
        """The row's controls in reading order (actions left to right, then Undo), for the
        dialog's Tab order."""
        widgets = [self.actions.itemAt(i).widget() for i in range(self.actions.count())]
        return [w for w in widgets if w is not None] + [self.undo_button]

    def show_corrections(self, corrections: DataCorrections) -> None:
        """Show what was done with this finding's pictures (and Undo), or its actions."""
        done = []
        for picture in self.pictures:
            key = DataCorrections.key(self.root, picture.path)
            name = os.path.basename(picture.path)
            if key in corrections.excluded:
                done.append(self.tr("{0} left out").format(name))
            elif key in corrections.relabelled:
                done.append(self.tr("{0} counted as '{1}'").format(name,
                                                                   corrections.relabelled[key]))
        self.status.setText(self.tr("Done: {0}. Nothing was changed on disk.").format(
            "; ".join(done)) if done else "")
        self.status.setVisible(bool(done))
        self.undo_button.setVisible(bool(done))
        self.action_box.setVisible(not done)
