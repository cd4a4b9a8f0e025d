"""The CAM panel: where the trained classifier looks, as Grad-CAM family heatmaps.

Original, heatmap (with a colour bar from low to high attention) and overlay side by side; the
image's true class beside the prediction, so a mistake reads as one; the edges the model never
saw (it looks at the centre square) greyed out; method, class, layer, colormap and opacity on
two rows (the window fits 1000 px); save the overlay (never into the dataset,
overlay_destination); a grid of the chosen class's images with their overlays. Maps are
computed off the GUI thread (core/jobs/explain.py); changing colormap or opacity only redraws.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMessageBox, QTabWidget,
                               QVBoxLayout, QWidget)

from transfer_gui.core.cam.layers import plain_layer_names
from transfer_gui.core.cam.overlay import colorize, overlay
from transfer_gui.core.jobs.events import ExplainFailed, Explained
from transfer_gui.core.jobs.explain import PanelExplanation, explain_job

from .cam_controls import CamControls
from .cam_views import ColourBar, ImageView, TrustNote, veil_unseen
from .class_grid import ClassGrid
from .overlay_destination import ask_overlay_path, dataset_of_model
from transfer_gui.ui.workers import JobHost
from transfer_gui.ui.error_dialog import plain_message


class CamPanel(QWidget, JobHost):
    """A window explaining one image at a time, or a grid of one class's images."""

    explained = Signal(object)  # PanelExplanation of the single-image view

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        from transfer_gui.ui.shortcuts import add_close_shortcuts

        add_close_shortcuts(self)  # Esc, Ctrl+W
        self.setWindowTitle(self.tr("Where the model looks (CAM)"))
        from transfer_gui.ui.screen_fit import fit_to_screen

        fit_to_screen(self, 1200, 720)
        self.setAcceptDrops(True)
        self.model_path: Optional[str] = None
        self.dataset: Optional[Path] = None  # the run's dataset: overlays are never saved there
        self.true_class: Optional[str] = None  # of the image shown, when known
        self.class_names: list[str] = []
        self.grid_sources: dict[str, list[str]] = {}  # class -> image paths for the grid
        self.layer_names: dict[str, str] = {}  # layer path -> plain name
        self.current: Optional[PanelExplanation] = None
        self.path: Optional[str] = None
        self.runner = self.make_runner(
            events={Explained: self._on_explained, ExplainFailed: self._on_explain_failed},
            failed=lambda msg, _: self.info.setText(self.tr("Failed: ") + plain_message(msg)))

        self.controls = CamControls()
        c = self.controls
        self.open_button, self.method, self.target, self.layer = (c.open_button, c.method,
                                                                  c.target, c.layer)
        self.colormap, self.opacity, self.save_button = c.colormap, c.opacity, c.save_button
        self.member = c.member
        self.member_layers: list[list[str]] = []  # an ensemble's: each member's layers
        self.member.currentIndexChanged.connect(self._on_member)
        self.open_button.clicked.connect(self._choose_image)
        self.save_button.clicked.connect(self._choose_save)
        for widget in (self.method, self.target, self.layer):
            widget.currentIndexChanged.connect(self.recompute)
        self.target.currentIndexChanged.connect(self._show_grid_class)
        self.colormap.currentIndexChanged.connect(self.redraw)
        self.opacity.valueChanged.connect(self.redraw)

        single = QWidget()
        views = QHBoxLayout()
        self.original_view = ImageView(self.tr("The image"))
        self.heatmap_view = ImageView(self.tr("The heatmap: warm colours mark evidence for the class"))
        self.overlay_view = ImageView(self.tr("The heatmap over the image"))
        self.bar = ColourBar()
        for view, caption in ((self.original_view, self.tr("Image")),
                              (self.heatmap_view, self.tr("Heatmap")),
                              (self.bar, self.tr("Attention")),
                              (self.overlay_view, self.tr("Overlay"))):
            column = QVBoxLayout()
            title = QLabel(f"<b>{caption}</b>")
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(title)
            column.addWidget(view, 1)
            views.addLayout(column, 0 if view is self.bar else 1)
        self.verdict = QLabel(wordWrap=True)  # true class and prediction
        self.verdict.setStyleSheet("font-size: 12pt;")
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trust_note = TrustNote()
        self.crop_note = QLabel(wordWrap=True)
        self.crop_note.setStyleSheet("color: #555;")
        self.crop_note.setText(self.tr(
            "Greyed out: the edges of the image the model never saw. It looks only at the "
            "centre square, so a detail there cannot have counted."))
        self.crop_note.hide()
        self.info = QLabel(self.tr("Open an image, or choose one in Results."))
        self.info.setWordWrap(True)
        single_layout = QVBoxLayout(single)
        single_layout.addWidget(self.verdict)
        single_layout.addLayout(views, 1)
        single_layout.addWidget(self.trust_note)
        single_layout.addWidget(self.crop_note)
        single_layout.addWidget(self.info)

        self.grid = ClassGrid()
        self.grid.showRequested.connect(self.show_grid)
        self.grid.imageChosen.connect(self.explain)
        self.grid_class, self.grid_count, self.grid_list = (self.grid.caption, self.grid.count,
                                                            self.grid.list)
        self.grid_button = self.grid.button

        self.tabs = QTabWidget()
        self.tabs.addTab(single, self.tr("One image"))
        self.tabs.addTab(self.grid, self.tr("Grid of a class"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.controls)
        layout.addWidget(self.tabs, 1)
        self._set_enabled(False)

    # -- model --------------------------------------------------------------------------------
    def set_model(self, model_path: str, class_names: list[str], layers: list[str],
                  grid_sources: Optional[dict[str, list[str]]] = None,
                  members: Optional[list[tuple[str, list[str]]]] = None) -> None:
        """Use the model saved at `model_path` (a run's model.pt); `grid_sources` lists each
        class's images (the run's evaluation split). An ensemble gives its `members`' names and
        layers: the "Member:" choice picks whose map is shown (`layers` is then ignored)."""
        self.model_path, self.class_names = model_path, list(class_names)
        self.grid_sources = grid_sources or {}
        self.dataset = dataset_of_model(model_path)
        self.member_layers = [list(m[1]) for m in members or []]
        for combo in (self.target, self.member):
            combo.blockSignals(True)
            combo.clear()
        self.target.addItem(self.tr("Predicted class"), None)
        for i, name in enumerate(class_names):
            self.target.addItem(name, i)
            self.target.setItemData(i + 1, name, Qt.ItemDataRole.ToolTipRole)
        for i, (name, _) in enumerate(members or []):
            self.member.addItem(name, i)
        for combo in (self.target, self.member):
            combo.blockSignals(False)
        self.controls.show_members(bool(members))
        self._set_layers(self.member_layers[0] if members else layers)
        self._set_enabled(True)
        self._show_grid_class()

    def _set_layers(self, layers: list[str]) -> None:
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer_names = dict(plain_layer_names(layers))  # path -> "late · 10 of 10"
        self.layer.addItem("", None)  # the method's measured default; named in _name_default
        self._name_default(layers[0] if layers else "")
        for path, name in self.layer_names.items():
            self.layer.addItem(name, path)
            self.layer.setItemData(self.layer.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        self.layer.blockSignals(False)

    def member_index(self) -> Optional[int]:
        """The ensemble member whose map is shown (None: the model is not an ensemble)."""
        return self.member.currentData() if self.member_layers else None

    def _on_member(self) -> None:
        index = self.member_index()
        if index is not None:
            self._set_layers(self.member_layers[index])
            self.recompute()

    def _set_enabled(self, on: bool) -> None:
        for w in (self.open_button, self.method, self.target, self.layer, self.member,
                  self.grid_button):
            w.setEnabled(on)
        self.save_button.setEnabled(on and self.current is not None)

    # -- single image -------------------------------------------------------------------------
    def explain(self, path: str, target: Optional[str] = None,
                true_class: Optional[str] = None) -> None:
        """Explain `path`; `target` may name a class to select (e.g. the true class);
        `true_class` is the image's label when the caller knows it (else looked up)."""
        if self.model_path is None:
            return
        self.path = path
        self.true_class = true_class if true_class in self.class_names else \
            self.true_class_of(path)
        self._show_grid_class()
        self.tabs.setCurrentIndex(0)
        if target is not None and target in self.class_names:
            self.target.blockSignals(True)
            self.target.setCurrentIndex(self.target.findData(self.class_names.index(target)))
            self.target.blockSignals(False)
        self.recompute()

    def recompute(self) -> None:
        if self.model_path is None or self.path is None:
            return
        self.info.setText(self.tr("Computing…"))
        self.trust_note.clear()
        self.runner.start(explain_job, self.model_path, [self.path], self.method.currentData(),
                          self.target.currentData(), self.layer.currentData(), True,
                          self.member_index())

    def _name_default(self, path: str) -> None:
        """Name the picker's first entry after the layer the method's default is."""
        name = self.layer_names.get(path, path)
        self.layer.setItemText(0, self.tr("{0} (default)").format(name))
        self.layer.setItemData(0, self.tr("{0}: the layer measured to point best for this "
                                          "method").format(path), Qt.ItemDataRole.ToolTipRole)

    def _on_explained(self, event: Explained) -> None:
        self.current = event.item
        if self.layer.currentIndex() == 0:
            self._name_default(event.item.explanation.layer)
        self.redraw()
        self._describe(event.item)
        self.save_button.setEnabled(True)
        self.explained.emit(event.item)

    def _on_explain_failed(self, event: ExplainFailed) -> None:
        self.info.setText(self.tr("Cannot explain {p}: {r}").format(p=Path(event.path).name,
                                                                    r=event.reason))

    def true_class_of(self, path: str) -> Optional[str]:
        """The class of an image of the run's evaluation split, or of an image in a folder
        named after a class (as in the dataset); None when unknown."""
        for name, paths in self.grid_sources.items():
            if path in paths:
                return name
        folder = Path(path).parent.name
        return folder if folder in self.class_names else None

    def _describe(self, item: PanelExplanation) -> None:
        e = item.explanation
        pred = f"<b>{html.escape(e.predicted_name)}</b> ({e.predicted_probability:.0%})"
        if self.true_class is None:
            verdict = self.tr("Predicted {0} · true class unknown").format(pred)
        elif self.true_class == e.predicted_name:
            verdict = self.tr("<span style='color:#1b7f3b'>Right:</span> true class {0}, "
                              "predicted {1}").format(f"<b>{html.escape(self.true_class)}</b>",
                                                      pred)
        else:
            verdict = self.tr("<span style='color:#b3261e'><b>Misclassified:</b></span> true "
                              "class {0}, predicted {1}").format(
                f"<b>{html.escape(self.true_class)}</b>", pred)
        if self.member_layers:  # an ensemble: the map and the prediction are this member's
            verdict = self.tr("{0} alone: {1}").format(
                f"<b>{html.escape(self.member.currentText())}</b>", verdict)
        self.verdict.setText(verdict)
        text = self.tr("{file}: predicted {pred} ({p:.0%}). Map for {target}: probability "
                       "{tp:.0%}, logit {logit:.2f}.").format(
            file=Path(e.path).name, pred=e.predicted_name, p=e.predicted_probability,
            target=e.target_name, tp=e.target_probability, logit=e.target_logit)
        if e.no_positive_evidence:
            text += " " + self.tr("No positive evidence for this class in this image.")
        self.info.setText(text)
        self.trust_note.show_check(e.trust, e.target_name)

    def rendered(self) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """(heatmap, overlay) of the current image at display size, in the chosen colours."""
        if self.current is None:
            return None
        cmap = self.colormap.currentText()
        heat = colorize(self.current.display_map, cmap)
        if self.current.explanation.no_positive_evidence:
            return heat, self.current.display_image  # nothing to overlay
        return heat, overlay(self.current.display_image, self.current.display_map,
                             alpha=self.opacity.value() / 100, colormap=cmap)

    def redraw(self) -> None:
        images = self.rendered()
        if images is None:
            return
        seen = self.current.display_seen
        for view, rgb in ((self.original_view, self.current.display_image),
                          (self.heatmap_view, images[0]), (self.overlay_view, images[1])):
            view.set_image(veil_unseen(rgb, seen))
        self.crop_note.setVisible(seen is not None and not seen.all())
        self.bar.set_colormap(self.colormap.currentText())

    def save_overlay(self, path: str) -> None:
        """Save the overlay at the original image's full resolution."""
        from PIL import Image

        from transfer_gui.core.atomic import atomic_write

        e = self.current.explanation
        full = overlay(e.image, e.map_original, alpha=self.opacity.value() / 100,
                       colormap=self.colormap.currentText())
        kind = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
        atomic_write(path, lambda f: Image.fromarray(full).save(f, format=kind))  # never half a file

    def _choose_save(self) -> None:
        if self.current is not None:
            path = ask_overlay_path(self, self.current.explanation.path, self.dataset)
            if path:
                self.save_overlay_reporting(path)

    def save_overlay_reporting(self, path: str) -> None:
        """save_overlay, telling the user when the file cannot be written."""
        try:
            self.save_overlay(path)
        except OSError as exc:
            QMessageBox.warning(self, self.tr("Save overlay"), self.tr(
                "Could not save the overlay to {0}: {1}").format(path, exc.strerror or exc))

    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Explain an image"), "", self.tr(
            "Images (*.jpg *.jpeg *.png *.bmp *.gif *.webp *.tif *.tiff)"))
        if path:
            self.explain(path)

    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_file():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.explain(event.mimeData().urls()[0].toLocalFile())
        event.acceptProposedAction()

    # -- grid -----------------------------------------------------------------------------------
    def grid_class_name(self) -> Optional[str]:
        """The class the grid shows: the one chosen in "Class:", else (with "Predicted class")
        the image's true class, else the first class with images."""
        index = self.target.currentData()
        if index is not None:
            return self.class_names[index]
        if self.true_class is not None:
            return self.true_class
        return next((c for c in self.class_names if self.grid_sources.get(c)), None)

    def _show_grid_class(self) -> None:
        name = self.grid_class_name()
        self.grid_class.setText(self.tr("Images of <b>{0}</b>, with the maps for it").format(
            html.escape(name)) if name else self.tr("No images to show"))

    def show_grid(self) -> None:
        name = self.grid_class_name()
        paths = self.grid_sources.get(name, [])[: self.grid_count.value()]
        self.grid_list.clear()
        if self.model_path and paths:
            self.tabs.setCurrentIndex(1)
            self.grid.show_images(self.model_path, paths, self.method.currentData(),
                                  self.class_names.index(name), self.layer.currentData(),
                                  self.opacity.value() / 100, self.colormap.currentText(),
                                  self.member_index())

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.grid.shutdown()
