"""Mode and CAM-method names: written once, next to their registries, and shown the same way
everywhere in the GUI."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from transfer_gui.core.cam import METHOD_NAMES, METHODS  # noqa: E402
from transfer_gui.core.training.config import MODE_NAMES, MODES  # noqa: E402
from transfer_gui.ui.cam.cam_controls import CamControls  # noqa: E402
from transfer_gui.ui.names import cam_method_name, mode_name  # noqa: E402
from transfer_gui.ui.project.run_picker import mode_label  # noqa: E402


def test_every_registered_mode_and_method_has_a_name():
    assert set(MODE_NAMES) == set(MODES)
    assert set(METHOD_NAMES) == set(METHODS) and all(METHOD_NAMES.values())
    assert METHOD_NAMES["gradcam"] == "Grad-CAM" and MODE_NAMES["fine_tuning"] == "Fine-tuning"


def test_the_gui_shows_the_registry_names(qtbot):
    assert [mode_name(m) for m in MODES] == ["Feature extraction", "Fine-tuning", "From scratch"]
    assert mode_label("fine_tuning") == mode_name("fine_tuning")
    assert mode_name(None) == "–" and mode_label("") == "?" and mode_name("odd") == "odd"
    controls = CamControls()
    qtbot.addWidget(controls)
    shown = [controls.method.itemText(i) for i in range(controls.method.count())]
    keys = [controls.method.itemData(i) for i in range(controls.method.count())]
    assert keys == list(METHODS)
    assert all(text.startswith(cam_method_name(key)) for text, key in zip(shown, keys))
    assert shown[keys.index("eigencam")].startswith("EigenCAM (")  # not class-specific
