"""The CAM panel: where the trained classifier looks, as Grad-CAM family heatmaps.

Original, heatmap (with a colour bar) and overlay side by side; method, target class, layer,
colormap and opacity; save the overlay; a grid of one class's images with their overlays.
Maps are computed off the GUI thread (cam_job); changing colormap or opacity only redraws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QSlider, QSpinBox,
                               QTabWidget, QVBoxLayout, QWidget)

from transfer_gui.core.cam import CLASS_SPECIFIC, DEFAULT_METHOD, METHODS
from transfer_gui.core.cam.overlay import COLORMAPS, colorbar, colorize, overlay

from .cam_job import PanelExplanation, explain_job, to_qimage
from transfer_gui.ui.workers import TaskRunner

METHOD_NAMES = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "gradcam++": "Grad-CAM++",
                "xgradcam": "XGrad-CAM", "layercam": "LayerCAM", "eigencam": "EigenCAM"}


class ImageView(QLabel):
    """Shows a pixmap scaled to fit, keeping its aspect ratio."""

    def __init__(self, tooltip: str) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 200)
        self.setToolTip(tooltip)
        self.setStyleSheet("background: #fafafa; border: 1px solid #ddd;")
        self._pixmap: Optional[QPixmap] = None

    def set_image(self, rgb: Optional[np.ndarray]) -> None:
        self._pixmap = QPixmap.fromImage(to_qimage(rgb)) if rgb is not None else None
        self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            self.clear()
            return
        self.setPixmap(self._pixmap.scaled(self.size() - QSize(4, 4),
                                           Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))


class CamPanel(QWidget):
    """A window explaining one image at a time, or a grid of one class's images."""

    explained = Signal(object)  # PanelExplanation of the single-image view

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Where the model looks (CAM)"))
        self.resize(1200, 720)
        self.setAcceptDrops(True)
        self.model_path: Optional[str] = None
        self.class_names: list[str] = []
        self.grid_sources: dict[str, list[str]] = {}  # class -> image paths for the grid
        self.current: Optional[PanelExplanation] = None
        self.path: Optional[str] = None
        self.runner = TaskRunner(self)
        self.runner.event.connect(self._on_event)
        self.runner.failed.connect(lambda msg, _: self.info.setText(self.tr("Failed: ") + msg))
        self.grid_runner = TaskRunner(self)
        self.grid_runner.event.connect(self._on_grid_event)

        controls = QGridLayout()
        self.open_button = QPushButton(self.tr("&Open image…"))
        self.open_button.setToolTip(self.tr("Explain an image file (you can also drop one here)"))
        self.open_button.clicked.connect(self._choose_image)
        self.method = QComboBox()
        for key in METHODS:
            label = METHOD_NAMES.get(key, key)
            if not CLASS_SPECIFIC[key]:
                label += self.tr(" (not class-specific)")
            self.method.addItem(label, key)
        self.method.setCurrentIndex(self.method.findData(DEFAULT_METHOD))
        self.method.setToolTip(self.tr("How the heatmap is computed. Grad-CAM is the standard; "
                                       "EigenCAM shows what the layer reacts to, for any class."))
        self.target = QComboBox()
        self.target.setToolTip(self.tr("Which class's evidence to show"))
        self.layer = QComboBox()
        self.layer.setToolTip(self.tr("The network layer the map is taken from (advanced); the "
                                      "first one is the recommended default."))
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setToolTip(self.tr("Colours of the heatmap"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip(self.tr("Opacity of the heatmap over the image"))
        self.save_button = QPushButton(self.tr("&Save overlay…"))
        self.save_button.setToolTip(self.tr("Save the overlay as a PNG file"))
        self.save_button.clicked.connect(self._choose_save)
        row = [(self.tr("Method:"), self.method), (self.tr("Class:"), self.target),
               (self.tr("Layer:"), self.layer), (self.tr("Colours:"), self.colormap),
               (self.tr("Opacity:"), self.opacity)]
        controls.addWidget(self.open_button, 0, 0)
        for i, (label, widget) in enumerate(row):
            controls.addWidget(QLabel(label), 0, 1 + 2 * i)
            controls.addWidget(widget, 0, 2 + 2 * i)
        controls.addWidget(self.save_button, 0, 2 + 2 * len(row))
        for widget in (self.method, self.target, self.layer):
            widget.currentIndexChanged.connect(self.recompute)
        self.colormap.currentIndexChanged.connect(self.redraw)
        self.opacity.valueChanged.connect(self.redraw)

        single = QWidget()
        views = QHBoxLayout()
        self.original_view = ImageView(self.tr("The image"))
        self.heatmap_view = ImageView(self.tr("The heatmap: warm colours mark evidence for the class"))
        self.overlay_view = ImageView(self.tr("The heatmap over the image"))
        self.bar = QLabel()
        self.bar.setToolTip(self.tr("Colour bar: low evidence at the bottom, high at the top"))
        for view, caption in ((self.original_view, self.tr("Image")),
                              (self.heatmap_view, self.tr("Heatmap")), (self.bar, ""),
                              (self.overlay_view, self.tr("Overlay"))):
            column = QVBoxLayout()
            title = QLabel(f"<b>{caption}</b>")
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(title)
            column.addWidget(view, 1)
            views.addLayout(column, 0 if view is self.bar else 1)
        self.info = QLabel(self.tr("Open an image, or choose one in Results."))
        self.info.setWordWrap(True)
        single_layout = QVBoxLayout(single)
        single_layout.addLayout(views, 1)
        single_layout.addWidget(self.info)

        grid = QWidget()
        grid_controls = QHBoxLayout()
        self.grid_class = QComboBox()
        self.grid_class.setToolTip(self.tr("The class whose images to show"))
        self.grid_count = QSpinBox()
        self.grid_count.setRange(1, 64)
        self.grid_count.setValue(12)
        self.grid_count.setToolTip(self.tr("How many images"))
        self.grid_button = QPushButton(self.tr("Show &grid"))
        self.grid_button.setToolTip(self.tr("Overlays for several images of the class"))
        self.grid_button.clicked.connect(self.show_grid)
        for w in (QLabel(self.tr("Class:")), self.grid_class, QLabel(self.tr("Images:")),
                  self.grid_count, self.grid_button):
            grid_controls.addWidget(w)
        grid_controls.addStretch(1)
        self.grid_list = QListWidget()
        self.grid_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid_list.setIconSize(QSize(200, 200))
        self.grid_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid_list.setToolTip(self.tr("Double-click an image to explain it on its own"))
        self.grid_list.itemDoubleClicked.connect(
            lambda item: self.explain(item.data(Qt.ItemDataRole.UserRole)))
        grid_layout = QVBoxLayout(grid)
        grid_layout.addLayout(grid_controls)
        grid_layout.addWidget(self.grid_list, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(single, self.tr("One image"))
        self.tabs.addTab(grid, self.tr("Grid of a class"))
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.tabs, 1)
        self._set_enabled(False)

    # -- model --------------------------------------------------------------------------------
    def set_model(self, model_path: str, class_names: list[str], layers: list[str],
                  grid_sources: Optional[dict[str, list[str]]] = None) -> None:
        """Use the model saved at `model_path` (a run's model.pt)."""
        self.model_path, self.class_names = model_path, list(class_names)
        self.grid_sources = grid_sources or {}
        for combo in (self.target, self.layer, self.grid_class):
            combo.blockSignals(True)
            combo.clear()
        self.target.addItem(self.tr("Predicted class"), None)
        for i, name in enumerate(class_names):
            self.target.addItem(name, i)
        for layer in layers:
            self.layer.addItem(layer, layer)
        self.grid_class.addItems([c for c in class_names if self.grid_sources.get(c)])
        for combo in (self.target, self.layer, self.grid_class):
            combo.blockSignals(False)
        self._set_enabled(True)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.open_button, self.method, self.target, self.layer, self.grid_button):
            w.setEnabled(on)
        self.save_button.setEnabled(on and self.current is not None)

    # -- single image -------------------------------------------------------------------------
    def explain(self, path: str, target: Optional[str] = None) -> None:
        """Explain `path`; `target` may name a class to select (e.g. the true class)."""
        if self.model_path is None:
            return
        self.path = path
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
        self.runner.start(explain_job, self.model_path, [self.path], self.method.currentData(),
                          self.target.currentData(), self.layer.currentData())

    def _on_event(self, name: str, payload) -> None:
        if name == "explained":
            self.current = payload
            self.redraw()
            self._describe(payload)
            self.save_button.setEnabled(True)
            self.explained.emit(payload)
        elif name == "failed":
            path, reason = payload
            self.info.setText(self.tr("Cannot explain {p}: {r}").format(p=Path(path).name, r=reason))

    def _describe(self, item: PanelExplanation) -> None:
        e = item.explanation
        text = self.tr("{file}: predicted {pred} ({p:.0%}). Map for {target}: probability "
                       "{tp:.0%}, logit {logit:.2f}.").format(
            file=Path(e.path).name, pred=e.predicted_name, p=e.predicted_probability,
            target=e.target_name, tp=e.target_probability, logit=e.target_logit)
        if e.no_positive_evidence:
            text += " " + self.tr("No positive evidence for this class in this image.")
        self.info.setText(text)

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
        self.original_view.set_image(self.current.display_image)
        self.heatmap_view.set_image(images[0])
        self.overlay_view.set_image(images[1])
        self.bar.setPixmap(QPixmap.fromImage(to_qimage(colorbar(self.colormap.currentText(),
                                                                 200, 16))))

    def save_overlay(self, path: str) -> None:
        """Save the overlay at the original image's full resolution."""
        from PIL import Image

        e = self.current.explanation
        full = overlay(e.image, e.map_original, alpha=self.opacity.value() / 100,
                       colormap=self.colormap.currentText())
        Image.fromarray(full).save(path)

    def _choose_save(self) -> None:
        if self.current is None:
            return
        default = str(Path(self.current.explanation.path).with_suffix("")) + "_cam.png"
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Save overlay"), default,
                                              self.tr("PNG image (*.png)"))
        if path:
            self.save_overlay(path)

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
    def show_grid(self) -> None:
        name = self.grid_class.currentText()
        paths = self.grid_sources.get(name, [])[: self.grid_count.value()]
        self.grid_list.clear()
        if self.model_path and paths:
            self.tabs.setCurrentIndex(1)
            self.grid_runner.start(explain_job, self.model_path, paths, self.method.currentData(),
                                   self.class_names.index(name), self.layer.currentData())

    def _on_grid_event(self, name: str, payload) -> None:
        if name != "explained":
            return
        e = payload.explanation
        over = overlay(payload.display_image, payload.display_map,
                       alpha=self.opacity.value() / 100, colormap=self.colormap.currentText())
        item = QListWidgetItem(f"{Path(e.path).name}\n{e.predicted_name} {e.predicted_probability:.0%}")
        item.setIcon(QPixmap.fromImage(to_qimage(over)))
        item.setData(Qt.ItemDataRole.UserRole, e.path)
        item.setToolTip(e.path)
        self.grid_list.addItem(item)

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.grid_runner.shutdown()
