"""Every window fits a 1366x768 laptop screen (1366x700 left after the desktop's bars) in every
state: 1 and 5 runs (the Run picker shows from 2), 2 and 20 classes, 40-character and Japanese
class names, every wizard page, the CAM panel, the Compare window and the Export dialog; and at
that size Back/Next, Export, Show split and the CAM controls are on screen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtCore import QRect, QSize  # noqa: E402
from PySide6.QtWidgets import QScrollArea, QWidget  # noqa: E402

from fake_runs import write_run  # noqa: E402
from synthetic import make_color_dataset  # noqa: E402

SCREEN = QSize(1366, 700)
LONG_NAMES = ([f"Specimen {i:02d} collected on the northern ridge"[:40] for i in range(10)]
              + [f"北側の尾根で採集された標本の顕微鏡写真その{i:02d}番の画像群と補足資料"[:40]
                 for i in range(10)])
DATASETS = {"2 classes": ("red", "blue"), "20 long names": LONG_NAMES}


def minimum(widget: QWidget) -> QSize:
    """The smallest size the window system lets the user give `widget`."""
    return widget.minimumSizeHint().expandedTo(widget.minimumSize())


def assert_fits(widget: QWidget, what: str) -> None:
    size = minimum(widget)
    assert size.width() <= SCREEN.width() and size.height() <= SCREEN.height(), \
        f"{what}: the minimum size is {size.width()}x{size.height()}, more than 1366x700"


def assert_on_screen(window: QWidget, widget: QWidget, what: str) -> None:
    """`widget` is shown and lies wholly inside `window` (at its current size)."""
    assert widget.isVisible(), f"{what} is hidden"
    rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
    assert window.rect().contains(rect), f"{what} at {rect} is outside the window {window.rect()}"


@pytest.fixture(params=list(DATASETS))
def dataset(request, tmp_path):
    return make_color_dataset(tmp_path / "data", classes=DATASETS[request.param], per_class=5,
                              size=24)


def check_every_page(qtbot, window, what: str) -> None:
    for index, page in enumerate(window.pages):
        window.go_to(index)
        assert window.stack.currentWidget() is page, f"{what}: cannot reach {page.title()}"
        qtbot.wait(10)
        assert_fits(window, f"{what}, {page.title()} page")
        window.resize(SCREEN)
        qtbot.wait(10)
        for button, name in ((window.back_button, "Back"), (window.next_button, "Next")):
            assert_on_screen(window, button, f"{what}, {page.title()} page: {name}")
        # A tall page may scroll down, but no page is wider than the room a laptop leaves it.
        room = window.findChild(QScrollArea, "pageScroller").viewport().width()
        assert minimum(page).width() <= room, \
            f"{what}, {page.title()} page: {minimum(page).width()} px wide in {room} px"


def test_the_main_window_and_every_window_fit_1366x700(qtbot, make_window, tiny_backbone,
                                                       dataset, tmp_path):
    window = make_window()
    window.show()
    window.data_page.open_folder(str(dataset))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    window.state.set_backbone("tiny_test")
    runs = tmp_path / "runs"
    modes = ("feature_extraction", "fine_tuning", "from_scratch", "fine_tuning",
             "feature_extraction")
    folders = [write_run(runs / f"20250101-12000{i}_efficientnet_lite0_{mode}", dataset,
                         mode=mode, cancelled=i == 3) for i, mode in enumerate(modes)]
    state = window.state
    state.add_run(state.run_result(folders[0]))
    check_every_page(qtbot, window, "1 run")
    for folder in folders[1:]:
        state.add_run(state.run_result(folder))
    check_every_page(qtbot, window, "5 runs")
    page = window.results_page
    window.go_to(window.pages.index(page))
    qtbot.wait(10)
    for widget, name in ((page.export_button, "Export model"), (page.split_box, "Show split"),
                         (page.run_picker, "Run picker")):
        assert_on_screen(window, widget, f"Results page: {name}")

    from transfer_gui.ui.cam.cam_panel import CamPanel

    panel = CamPanel(window)
    panel.set_model(str(folders[0] / "model.pt"), state.result.dataset.class_names,
                    ["features.6.0.block.3.0 (last layer)", "features.5.2.block.3.0"],
                    {name: [] for name in state.result.dataset.class_names})
    panel.show()
    assert_fits(panel, "CAM panel")
    assert minimum(panel).width() <= 1000, f"CAM panel minimum width {minimum(panel).width()}"
    panel.resize(SCREEN)
    qtbot.wait(10)
    for widget, name in ((panel.opacity, "opacity"), (panel.save_button, "Save overlay"),
                         (panel.target, "Class")):
        assert_on_screen(panel, widget, f"CAM panel: {name}")
    assert panel.opacity.width() >= 100, "the opacity slider is too short to use"
    panel.shutdown()
    panel.close()

    window.open_compare()
    view = window.compare_view
    assert len(view.summaries()) == 5
    names = [view.table.item(row, 0).text() for row in range(5)]
    assert names[3] == f"4 · Fine-tuning · Tiny test net · {names[3].split(' · ')[3]} · stopped"
    assert [name.endswith("stopped") for name in names] == [False, False, False, True, False]
    assert_fits(window.compare_view, "Compare window with 5 runs")

    (Path(state.result.run_dir) / "model.pt").touch()  # the dialog only needs the file to exist
    window.open_export()
    dialog = window.export_dialog
    assert Path(dialog.run_dir) == Path(state.result.run_dir)
    assert_fits(dialog, "Export dialog")
    dialog.reject()


def test_a_10_class_matrix_fits_and_run_names_read_plainly(qtbot, make_window, tiny_backbone,
                                                          tmp_path):
    """Point 18: at 1366 px a 10-class matrix of long names needs no sideways scrolling (its
    columns are numbered, every header's tooltip has the name); short names head the columns
    as they are; the run picker reads "2 · Fine-tuning · Tiny test net · 85.0% · stopped"."""
    from PySide6.QtCore import Qt

    data = make_color_dataset(tmp_path / "data", classes=LONG_NAMES[5:15], per_class=5, size=24)
    window = make_window()
    window.show()
    window.data_page.open_folder(str(data))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    state = window.state
    for i, (mode, stopped) in enumerate((("feature_extraction", False), ("fine_tuning", True))):
        folder = write_run(tmp_path / "runs" / f"run{i}", data, mode=mode, cancelled=stopped)
        state.add_run(state.run_result(folder))
    window.resize(SCREEN)
    window.go_to(window.pages.index(window.results_page))
    qtbot.wait(50)
    page = window.results_page
    matrix = page.matrix
    names = state.result.evaluation["class_names"]
    columns, rows = matrix.header_texts()
    assert columns == [str(i) for i in range(1, 11)]
    assert rows == [f"{i} · {name}" for i, name in enumerate(names, start=1)]
    model = matrix.model()
    for i, name in enumerate(names):
        for orientation in (Qt.Orientation.Horizontal, Qt.Orientation.Vertical):
            assert name in model.headerData(i, orientation, Qt.ItemDataRole.ToolTipRole)
    assert matrix.horizontalScrollBar().maximum() == 0, "the matrix scrolls sideways"
    assert matrix.verticalHeader().width() <= 220

    labels = page.run_picker.labels()
    accuracy = f"{state.result.best['val_acc']:.1%}"
    assert labels == [f"1 · Feature extraction · Tiny test net · {accuracy}",
                      f"2 · Fine-tuning · Tiny test net · {accuracy} · stopped"]
    assert page.run_picker.toolTip() == labels[1]  # the selected run's whole label

    matrix.set_matrix([[3, 1], [0, 4]], ["ants", "bees"])
    assert matrix.header_texts() == (["ants", "bees"], ["ants", "bees"])
