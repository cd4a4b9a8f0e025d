"""The Data page at 1366x768: the class table gets the room (all 10 classes of a 10-class set
show without scrolling), with the summary, warnings and skipped files beside it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

import torch  # noqa: E402,F401  (before PySide6, as the app does)

from synthetic import make_color_dataset  # noqa: E402


def fully_visible_rows(table) -> int:
    height = table.viewport().height()
    return sum(1 for row in range(table.rowCount())
               if 0 <= table.rowViewportPosition(row)
               and table.rowViewportPosition(row) + table.rowHeight(row) <= height)


def test_ten_classes_fit_the_class_table_at_1366x768(make_window, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "ten", classes=[f"class {i}" for i in range(10)],
                              per_class=4)
    (root / "notes.txt").write_text("not an image")  # one skipped file: the side list shows
    window = make_window()
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    page = window.data_page
    page.open_folder(str(root))
    qtbot.waitUntil(lambda: page.state.dataset is not None, timeout=10_000)
    qtbot.wait(50)  # the layout settles
    table = page.class_table
    assert table.rowCount() == 10 and fully_visible_rows(table) == 10
    assert page.skipped_group.isVisible() and page.skipped_table.rowCount() == 1
    # the summary sits beside the table, not above it
    summary = page.summary.mapTo(window, page.summary.rect().topLeft())
    classes = table.mapTo(window, table.rect().topLeft())
    assert summary.x() > classes.x() + table.width() // 2
