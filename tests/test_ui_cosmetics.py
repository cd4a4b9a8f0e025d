"""Cosmetics (issue 12.22): square thumbnail tiles with nothing behind non-square images, one
page margin everywhere, a title on every page, and the Export dialog forgets the last verdict
when the format changes."""

from __future__ import annotations

from types import SimpleNamespace

from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from transfer_gui.core.jobs import export as export_job_module
from transfer_gui.ui.export.export_dialog import ExportDialog
from transfer_gui.ui.thumbnails import ThumbnailStrip


def test_a_wide_thumbnail_sits_centred_on_a_clear_square(qtbot, tmp_path):
    wide = tmp_path / "wide.png"
    Image.new("RGB", (200, 100), (200, 40, 40)).save(wide)
    strip = ThumbnailStrip(96)
    qtbot.addWidget(strip)
    strip.show_images([str(wide)], ["wide"])
    item = strip.item(0)
    with qtbot.waitSignal(strip.loader.finished, timeout=10_000):
        pass
    pixmap = item.icon().pixmap(QSize(96, 96))
    assert pixmap.size() == QSize(96, 96)
    image = pixmap.toImage()
    assert image.pixelColor(48, 2).alpha() == 0  # above the image: clear, no grey tile
    assert image.pixelColor(48, 48) == QColor(200, 40, 40)  # the image, centred


def test_every_page_has_a_title_and_the_same_margins(make_window):
    window = make_window()
    margins = set()
    for page in window.pages:
        titles = [label.text() for label in page.findChildren(QLabel, "heading")]
        if page is window.results_page:  # its headline ("Correct on …") is its title
            titles = [page.headline.text() or "headline"]
        assert titles, f"{page.title()} page has no title"
        m = page.layout().contentsMargins()
        margins.add((m.left(), m.top(), m.right(), m.bottom()))
    assert len(margins) == 1, margins


def test_export_dialog_forgets_the_verdict_when_the_format_changes(qtbot, tmp_path,
                                                                   monkeypatch):
    def fake_export(run_dir, fmt, out, progress=None, cancel=None):
        return SimpleNamespace(path=out, check=SimpleNamespace(passed=True, message="3 images"))

    monkeypatch.setattr(export_job_module, "export_run", fake_export)
    dialog = ExportDialog(tmp_path / "run")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.path_edit.setText(str(tmp_path / "m.pt"))
    with qtbot.waitSignal(dialog.runner.stopped, timeout=10_000):
        dialog.export_button.click()
    assert dialog.status.text().startswith("✔ Verified") and dialog.show_button.isEnabled()
    dialog.buttons["bundle"].setChecked(True)
    assert dialog.status.text() == "" and not dialog.show_button.isEnabled()
    assert dialog.result is None and dialog.path_edit.text().endswith("run_bundle")
    dialog.runner.shutdown()
