"""Step 5, Results: headline scores, the confusion matrix, per-class scores and the mistakes.

The headline is the primary split's accuracy with its 95% interval, then balanced accuracy and
macro-F1; the run's note (which model a fine-tuning run kept, and why) follows. The
"Cross-validate" panel (`crossval_panel.CrossValidationPanel`) scores the run's dataset and
backbone on every labelled image, fold by fold.

It shows the selected run (`state.result`); when the project holds several runs, the "Run:"
picker in the header chooses which (`run_picker.RunPicker`). Everything below the headline
follows the split selector. Clicking a matrix cell lists that cell's images in a gallery
(thumbnails load off the GUI thread, see `gallery.ImageGallery`).
"""

from __future__ import annotations

import html
import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QStackedWidget, QVBoxLayout, QWidget)

from transfer_gui.core.evaluation import describe_accuracy

from .confusion import ConfusionMatrixView
from .crossval_panel import CrossValidationPanel
from .gallery import Entry, ImageGallery
from .label_review import LabelReviewButton
from .per_class_table import PerClassTable
from transfer_gui.ui.project.run_picker import RunPicker
from transfer_gui.ui.state import AppState
from transfer_gui.ui.wizard_page import WizardPage


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{seconds:.1f} s"


def _make_room(splitter: QSplitter, index: int) -> None:
    """Give the splitter's `index`th part the height it asks for; the others share the rest."""
    sizes = splitter.sizes()
    need = min(splitter.widget(index).sizeHint().height(), sum(sizes) * 2 // 3)
    rest = (sum(sizes) - need) // max(len(sizes) - 1, 1)
    splitter.setSizes([need if i == index else rest for i in range(len(sizes))])


class ResultsPage(WizardPage):
    """Shows state.result: scores, confusion matrix, per-class table and misclassified images."""

    openInCam = Signal(str, str, str)  # path, true class, predicted class
    exportRequested = Signal()  # "Export model…": the main window opens the export dialog

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(state, parent)
        self._thumbs: dict[str, QPixmap] = {}
        self._split: Optional[str] = None
        self.empty = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setStyleSheet("font-size: 15pt; color: palette(dark);")
        self.headline = QLabel(wordWrap=True)
        self.headline.setStyleSheet("font-size: 22pt; font-weight: 600;")
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.balanced = QLabel()
        self.balanced.setToolTip(self.tr("Balanced accuracy: the average of each class's accuracy, "
                                         "so a rare class counts as much as a common one."))
        self.macro_f1 = QLabel()
        self.macro_f1.setToolTip(self.tr("Macro-F1: the average over classes of F1, which is high "
                                         "only when a class is both found and not over-predicted "
                                         "(1 is perfect)."))
        for label in (self.balanced, self.macro_f1):
            label.setStyleSheet("font-size: 13pt;")
        self.details = QLabel(wordWrap=True)
        self.decision = QLabel(wordWrap=True)  # the run's note: which model it kept, and why
        self.decision.setStyleSheet("font-weight: 600;")
        self.note = QLabel(wordWrap=True)
        self.note.setStyleSheet("color: #b35900;")
        self.crossval = CrossValidationPanel()
        self.run_picker = RunPicker(state)
        self.export_button = QPushButton(self.tr("Export model…"))
        self.export_button.setToolTip(self.tr("Save this run's model as TorchScript, ONNX or a "
                                              "model bundle; the export is checked right away"))
        self.export_button.clicked.connect(self.exportRequested)
        self.label_review = LabelReviewButton(state)
        self.split_combo = QComboBox()
        self.split_combo.setToolTip(self.tr("Which images the views below are computed on"))
        self.split_combo.currentIndexChanged.connect(self._on_split_changed)
        self.matrix = ConfusionMatrixView()
        self.matrix.cellActivated.connect(self.show_cell)
        self.per_class = PerClassTable()
        self.cell_gallery = ImageGallery(self._thumbs)
        self.mistakes = ImageGallery(self._thumbs)
        for gallery in (self.cell_gallery, self.mistakes):
            gallery.openInCam.connect(self.openInCam)
        self._build_layout()
        state.resultChanged.connect(self.refresh)
        self.refresh()

    def _build_layout(self) -> None:
        def section(title: str, hint: str, widget: QWidget, stretch: int = 1) -> QWidget:
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            label = QLabel(f"<b>{title}</b>" + (f" <span style='color:gray'>— {hint}</span>"
                                                 if hint else ""), wordWrap=True)
            lay.addWidget(label)
            lay.addWidget(widget, stretch)
            return box

        # The header stays above the stack, so the run picker is there even for a run with no
        # scores to show (then only the split selector and the texts are hidden). Its controls
        # share one row and the texts wrap below, so long run names never widen the page.
        self.split_box = QWidget()
        split_row = QHBoxLayout(self.split_box)
        split_row.setContentsMargins(0, 0, 0, 0)
        split_row.addWidget(QLabel(self.tr("Show split:")))
        split_row.addWidget(self.split_combo)
        bar = QHBoxLayout()
        bar.addWidget(self.run_picker, 1)
        bar.addStretch(0)
        bar.addWidget(self.split_box)
        bar.addWidget(self.label_review)
        bar.addWidget(self.export_button)
        scores = QHBoxLayout()
        scores.addWidget(self.balanced)
        scores.addWidget(self.macro_f1)
        scores.addStretch(1)
        top = QVBoxLayout()
        top.addLayout(bar)
        top.addWidget(self.headline)
        top.addLayout(scores)
        from transfer_gui.ui.model_in_use import ModelInUse

        self.model_in_use = ModelInUse(self.state)  # and a warning for another dataset's run
        top.addWidget(self.model_in_use)
        for w in (self.details, self.decision, self.note):
            top.addWidget(w)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(section(self.tr("Confusion matrix"),
                               self.tr("rows: true class, columns: predicted; click a cell"),
                               self.matrix))
        left.addWidget(section(self.tr("Per-class scores"), "", self.per_class))
        left.setSizes([420, 220])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.cell_gallery)
        right.addWidget(self.mistakes)
        right.addWidget(section(self.tr("Cross-validation"),
                                self.tr("how much the accuracy depends on the held-out images"),
                                self.crossval))
        self.crossval.resultShown.connect(lambda: _make_room(right, 2))
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(right)
        main.setSizes([600, 560])  # a 10-class matrix fits its side at 1366 px
        line = QFrame(frameShape=QFrame.Shape.HLine, frameShadow=QFrame.Shadow.Sunken)
        content = QWidget()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(line)
        lay.addWidget(main, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.addLayout(top)
        outer.addWidget(self.stack, 1)

    def title(self) -> str:
        return self.tr("Results")

    def shutdown(self) -> None:
        self.label_review.shutdown()
        self.crossval.shutdown()
        self.cell_gallery.shutdown()
        self.mistakes.shutdown()

    def split_label(self, split: str) -> str:
        return self.tr("Validation") if split == "val" else self.tr("Test")

    def current_split(self) -> Optional[str]:
        return self._split

    def set_split(self, split: str) -> None:
        self.split_combo.setCurrentIndex(self.split_combo.findData(split))

    # ------------------------------------------------------------------ updating
    def refresh(self) -> None:
        result = self.state.result
        self.export_button.setEnabled(result is not None and result.has_model)
        evaluation = result.evaluation if result is not None else None
        self._thumbs.clear()
        self._split = None
        self.crossval.set_run(result)
        if evaluation is None:
            self.empty.setText(self.tr("Train a model to see its results here.") if result is None
                               else self.tr("This run was stopped before it was evaluated, so "
                                            "there are no scores to show. Train again and let it "
                                            "finish to see its results."))
            for label in (self.headline, self.balanced, self.macro_f1, self.details,
                          self.decision, self.note):
                label.clear()
            self.note.hide()
            self.decision.hide()
            self.split_box.hide()
            self.stack.setCurrentIndex(0)
            self.cell_gallery.set_images([], "")
            self.mistakes.set_images([], "")
            return
        primary = evaluation["primary_split"]
        scores = evaluation["splits"][primary]
        self._show_scores(primary, scores)
        epochs = sum(1 for h in result.history if h.get("epoch", 0) > 0)  # not the epoch-0 probe
        best = evaluation.get("best_epoch", "?")
        start = self.tr(" (the feature-extraction start)") if best == 0 else ""
        ran = (self.tr("ran its one epoch") if epochs == 1
               else self.tr("ran all {0} epochs").format(epochs))
        stop = result.stop_reason or (ran if epochs else self.tr("no fine-tuning epochs"))
        self.details.setText(self.tr(
            "Best epoch {0} of {1}{2} · {3} · trained in {4} on {5}").format(
            best, epochs, start, stop, _duration(result.seconds), result.device or "?"))
        self.decision.setText(result.note or "")
        self.decision.setVisible(bool(result.note))
        self.note.setText(self.tr("⚠ Training was cancelled: these are the scores of the best "
                                  "model saved before it stopped.") if result.cancelled else "")
        self.note.setVisible(result.cancelled)
        self.split_combo.blockSignals(True)
        self.split_combo.clear()
        for split in ("val", "test"):
            if split in evaluation["splits"]:
                self.split_combo.addItem(self.split_label(split), split)
        self.split_combo.blockSignals(False)
        self.split_box.show()
        self.stack.setCurrentIndex(1)
        self.set_split(primary)
        self._on_split_changed()

    def _show_scores(self, split: str, scores: dict) -> None:
        """The headline: accuracy with its 95% interval, then balanced accuracy and macro-F1."""
        self.headline.setText(self.tr("{0} accuracy {1}").format(
            self.split_label(split), describe_accuracy(scores)))
        self.headline.setToolTip(self.tr(
            "The share of {0} images classified correctly. The range in brackets is where the "
            "true accuracy most likely lies (95% confidence); more images make it narrower.")
            .format(self.split_label(split).lower()))
        balanced = scores.get("balanced_accuracy")
        self.balanced.setText(self.tr("Balanced accuracy {0:.1%} ·").format(balanced)
                              if balanced is not None else "")
        self.balanced.setVisible(balanced is not None)
        self.macro_f1.setText(self.tr("Macro-F1 {0:.3f}").format(scores["macro_f1"]))

    def _on_split_changed(self, *_args) -> None:
        split = self.split_combo.currentData()
        evaluation = self.state.result.evaluation if self.state.result else None
        if split is None or evaluation is None or split == self._split:
            return
        self._split = split
        scores, names = evaluation["splits"][split], evaluation["class_names"]
        self.matrix.set_matrix(scores["confusion_matrix"], names)
        self.per_class.set_rows(scores["per_class"])
        wrong = scores["misclassified"]
        caption = (self.tr("<b>Misclassified {0} images: {1}</b> — most confident mistakes first")
                   .format(self.split_label(split).lower(), len(wrong)) if wrong else
                   self.tr("<b>No misclassified {0} images</b> — every prediction was right.")
                   .format(self.split_label(split).lower()))
        self.mistakes.set_images([self._mistake_entry(m) for m in wrong], caption)
        cm = scores["confusion_matrix"]
        cells = [(cm[t][p], t, p) for t in range(len(names)) for p in range(len(names)) if t != p]
        _count, t, p = max(cells, default=(0, 0, 0))  # the commonest mix-up, else the first class
        self.matrix.select_cell(t, p if _count else t)

    def _mistake_entry(self, m: dict) -> Entry:
        return Entry(m["file"], f"{m['true']} → {m['predicted']} ({100 * m['probability']:.0f}%)",
                     m["true"], m["predicted"],
                     self.tr("True: {0} ({1:.0f}%) · predicted: {2} ({3:.0f}%)").format(
                         m["true"], 100 * m["true_probability"], m["predicted"],
                         100 * m["probability"]))

    def show_cell(self, true_index: int, predicted_index: int) -> None:
        """List the images of one confusion-matrix cell of the current split."""
        evaluation = self.state.result.evaluation if self.state.result else None
        if evaluation is None or self._split is None:
            return
        scores, names = evaluation["splits"][self._split], evaluation["class_names"]
        true, pred = names[true_index], names[predicted_index]
        missing = ""
        if true_index != predicted_index:
            entries = [self._mistake_entry(m) for m in scores["misclassified"]
                       if m["true"] == true and m["predicted"] == pred]
        else:
            wrong = {m["file"] for m in scores["misclassified"]}
            dataset = self.state.result.dataset
            samples = dataset.split(self._split) if dataset is not None else []
            missing = "" if dataset is not None else self.tr(" (the list is not available)")
            entries = [Entry(s.path, os.path.basename(s.path), true, true) for s in samples
                       if s.label == true_index and s.path not in wrong]
        n = len(entries)
        images = self.tr("1 image") if n == 1 else self.tr("{0} images").format(n)
        true, pred = html.escape(true), html.escape(pred)
        caption = (self.tr("<b>{0} predicted correctly: {1}</b>").format(true, images)
                   if true_index == predicted_index else
                   self.tr("<b>{0} predicted as {1}: {2}</b>").format(true, pred, images))
        self.cell_gallery.set_images(entries, caption + missing)
