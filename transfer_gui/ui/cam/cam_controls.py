"""The CAM panel's controls, on two rows so the window fits 1000 px: open an image, method,
the one "Class:" control (for the image and the grid), layer; colours, opacity, save."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QVBoxLayout, QWidget)

from transfer_gui.core.cam import CLASS_SPECIFIC, DEFAULT_METHOD, METHODS
from transfer_gui.core.cam.overlay import COLORMAPS
from transfer_gui.ui.names import cam_method_name

class CamControls(QWidget):
    """The widgets only; the panel connects them."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.open_button = QPushButton(self.tr("&Open image…"))
        self.open_button.setToolTip(self.tr("Explain an image file (you can also drop one here)"))
        self.method = QComboBox()
        for key in METHODS:
            label = cam_method_name(key)
            if not CLASS_SPECIFIC[key]:
                label += self.tr(" (not class-specific)")
            self.method.addItem(label, key)
        self.method.setCurrentIndex(self.method.findData(DEFAULT_METHOD))
        self.method.setToolTip(self.tr("How the heatmap is computed. Grad-CAM is the standard; "
                                       "EigenCAM shows what the layer reacts to, for any class."))
        self.target = QComboBox()
        self.target.setToolTip(self.tr("Which class's evidence to show, for the image and for "
                                       "the grid (whose images are of this class)"))
        self.layer = QComboBox()
        self.layer.setToolTip(self.tr(
            "The network layer the map is taken from (advanced): late layers see whole "
            "objects, early ones finer detail. The first entry is the layer measured to point "
            "best for the chosen method; hover an entry for its path."))
        self.member = QComboBox()  # an ensemble's members: each has its own map
        self.member.setToolTip(self.tr(
            "An ensemble averages its members' answers but has no heatmap of its own: choose "
            "whose heatmap to see (and that member's own prediction)"))
        self.member_label = QLabel(self.tr("&Member:"))
        self.member_label.setBuddy(self.member)
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setToolTip(self.tr("Colours of the heatmap"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip(self.tr("Opacity of the heatmap over the image"))
        self.opacity.setMinimumWidth(160)
        self.save_button = QPushButton(self.tr("&Save overlay…"))
        self.save_button.setToolTip(self.tr("Save the overlay as a PNG file"))
        for combo, length in ((self.method, 16), (self.target, 16), (self.layer, 14),
                              (self.member, 16), (self.colormap, 8)):  # long names are cut short, not widening
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(length)
        controls = QVBoxLayout(self)
        controls.setContentsMargins(0, 0, 0, 0)
        for items in ([self.open_button, self.tr("Method:"), self.method, self.tr("Class:"),
                       self.target, self.tr("Layer:"), self.layer, 1],
                      [self.member_label, self.member, self.tr("Colours:"), self.colormap, self.tr("Opacity:"), self.opacity, 1,
                       self.save_button]):
            row = QHBoxLayout()
            for item in items:
                if isinstance(item, int):
                    row.addStretch(item)
                else:
                    row.addWidget(QLabel(item) if isinstance(item, str) else item)
            controls.addLayout(row)
        self.show_members(False)

    def show_members(self, on: bool) -> None:
        self.member_label.setVisible(on)
        self.member.setVisible(on)
