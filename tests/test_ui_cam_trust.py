"""The CAM panel shows the per-image trust note (core/cam/trust.py) next to the map."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402,F401  (before PySide6, as the app does)

from test_ui_cam_panel import panel, trained  # noqa: E402,F401  (fixtures)
from transfer_gui.core.cam.trust import TrustCheck  # noqa: E402


def test_the_note_appears_with_the_map_and_follows_the_check(qtbot, panel, trained):
    path = trained.dataset.split("val")[0].path
    with qtbot.waitSignal(panel.explained, timeout=20_000) as signal:
        panel.explain(path)
    e = signal.args[0].explanation
    assert isinstance(e.trust, TrustCheck)
    text = panel.trust_note.text()
    assert "How much to trust this map" in text and "Hiding the highlighted area" in text
    assert f"{e.trust.probability:.0%}" in text and f"{e.trust.random:.0%}" in text
    panel.trust_note.show_check(TrustCheck(0.9, 0.88, 0.87), "red")
    assert "does not show what the model used" in panel.trust_note.text()
    assert "#b3261e" in panel.trust_note.text()
    panel.trust_note.show_check(None, "red")
    assert panel.trust_note.text() == ""


def test_the_layer_picker_shows_plain_names_with_paths_in_tooltips(qtbot, panel, trained):
    from PySide6.QtCore import Qt

    texts = [panel.layer.itemText(i) for i in range(panel.layer.count())]
    assert texts[0].endswith("(default)") and texts[0].startswith("late")
    assert panel.layer.itemData(0) is None  # the method's measured default
    assert any(t.startswith("early — finer detail") for t in texts[1:])
    assert not any(t.startswith("backbone.") for t in texts)
    path = panel.layer.itemData(1)
    assert path.startswith("backbone.")
    assert panel.layer.itemData(1, Qt.ItemDataRole.ToolTipRole) == path
