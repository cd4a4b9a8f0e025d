"""Results page: headline, confusion matrix and its cell gallery, per-class table, mistakes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
import threading

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from synthetic import make_color_dataset, tiny_spec
from ui_helpers import show_page
from transfer_gui.core.evaluation import describe_accuracy, evaluate_predictions
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.models import register_backbone, unregister_backbone
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run
from transfer_gui.ui import thumbnails
from transfer_gui.ui.results.confusion import ConfusionMatrixView
from transfer_gui.ui.results.gallery import THUMB, Entry, ImageGallery
from transfer_gui.ui.results.results_page import ResultsPage
from transfer_gui.ui.state import AppState

CLASSES = ("red", "green", "blue", "gold")  # gold is a random colour: the tiny net confuses it


@pytest.fixture(scope="module")
def real_result(tmp_path_factory):
    """One real (short, so imperfect) training run on 4 colour classes, shared by the module."""
    root = tmp_path_factory.mktemp("results_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch_home"))
        spec = tiny_spec(root / "tiny.pth")
        register_backbone(spec)
        try:
            data = make_color_dataset(root / "colors", classes=CLASSES, per_class=30)
            # A strong fixed penalty keeps the linear probe simple enough to make mistakes.
            config = TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                          epochs=3, batch_size=8, head_l2=1.0)
            result = train_run(config, root / "run", feature_cache=FeatureCache())
        finally:
            unregister_backbone(spec.name)
    assert result.evaluation is not None
    return result


def fabricate(result, mistakes: dict[str, dict[str, str]], **changes):
    """A copy of `result` whose evaluation comes from chosen predictions: every image of each
    split is predicted right except `mistakes[split][path] = predicted class`."""
    names = result.dataset.class_names
    splits = {}
    for split in ("val", "test"):
        samples = result.dataset.split(split)
        pred = [names.index(mistakes.get(split, {}).get(s.path, names[s.label])) for s in samples]
        probs = np.full((len(samples), len(names)), 0.1 / (len(names) - 1))
        probs[np.arange(len(samples)), pred] = 0.9
        splits[split] = evaluate_predictions([s.label for s in samples], probs, names,
                                             [s.path for s in samples])
    evaluation = {"schema_version": 1, "class_names": names, "primary_split": "test",
                  "best_epoch": 2, "splits": splits}
    return dataclasses.replace(result, evaluation=evaluation, **changes)


def files_of(result, split, cls):
    label = result.dataset.class_names.index(cls)
    return [s.path for s in result.dataset.split(split) if s.label == label]


@pytest.fixture
def known(real_result):
    """Test split: 2 gold -> red, 1 green -> blue. Val split: 1 red -> gold."""
    gold, green = files_of(real_result, "test", "gold"), files_of(real_result, "test", "green")
    red_val = files_of(real_result, "val", "red")
    mistakes = {"test": {gold[0]: "red", gold[1]: "red", green[0]: "blue"},
                "val": {red_val[0]: "gold"}}
    return fabricate(real_result, mistakes), mistakes


@pytest.fixture
def page(qtbot):
    state = AppState()
    widget = show_page(qtbot, ResultsPage(state))
    yield widget
    widget.shutdown()


def click_cell(qtbot, view: ConfusionMatrixView, t: int, p: int) -> None:
    rect = view.visualRect(view.model().index(t, p))
    with qtbot.waitSignal(view.cellActivated, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [t, p]


def matrix_counts(view: ConfusionMatrixView) -> list[list[int]]:
    n = view.model().rowCount()
    return [[int(view.model().index(t, p).data()) for p in range(n)] for t in range(n)]


def wait_thumbnails(qtbot, gallery: ImageGallery) -> None:
    qtbot.waitUntil(lambda: all(gallery.has_thumbnail(i) for i in range(gallery.list.count())),
                    timeout=5000)


# --------------------------------------------------------------------------- real run
def test_real_run_shows_scores_matrix_and_mistakes(qtbot, page, real_result, tmp_path):
    page.state.set_result(real_result)
    evaluation = real_result.evaluation
    test = evaluation["splits"]["test"]
    assert page.stack.currentIndex() == 1
    assert page.title() == "Results"
    assert page.headline.text() == f"Test accuracy {describe_accuracy(test)}"
    assert f"{test['macro_f1']:.3f}" in page.macro_f1.text()
    assert f"{test['balanced_accuracy']:.1%}" in page.balanced.text()
    assert f"of {len(real_result.history)}" in page.details.text()
    assert real_result.device in page.details.text()
    combo = page.split_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["val", "test"]
    assert page.current_split() == "test"
    assert matrix_counts(page.matrix) == test["confusion_matrix"]
    assert page.matrix.total() == test["num_samples"]
    assert test["misclassified"], "the short run is meant to make mistakes"
    gallery = page.mistakes
    assert gallery.paths() == [m["file"] for m in test["misclassified"]]
    first = test["misclassified"][0]
    item = gallery.list.item(0)
    percent = round(100 * first["probability"])
    assert item.text() == f"{first['true']} → {first['predicted']} ({percent}%)"
    assert first["file"] in item.toolTip()
    wait_thumbnails(qtbot, gallery)
    for i in range(gallery.list.count()):
        sizes = gallery.list.item(i).icon().availableSizes()
        assert [(s.width(), s.height()) for s in sizes] == [(THUMB, THUMB)]
    # The page opens on the commonest mix-up.
    cm = test["confusion_matrix"]
    worst = max((cm[t][p], t, p) for t in range(len(cm)) for p in range(len(cm)) if t != p)
    assert len(page.cell_gallery.paths()) == worst[0]
    out = tmp_path / "results_page.png"
    assert page.grab().save(str(out))
    shot = QImage(str(out))
    assert (shot.width(), shot.height()) == (1280, 800)


# --------------------------------------------------------------------------- exact checks
def test_matrix_counts_and_total_match_a_known_evaluation(page, known):
    result, _ = known
    page.state.set_result(result)
    test = result.evaluation["splits"]["test"]
    names = result.evaluation["class_names"]
    expected = [[0] * len(names) for _ in names]
    for s in result.dataset.split("test"):
        expected[s.label][s.label] += 1
    gold, green, red, blue = (names.index(c) for c in ("gold", "green", "red", "blue"))
    expected[gold][gold] -= 2
    expected[gold][red] += 2
    expected[green][green] -= 1
    expected[green][blue] += 1
    assert test["confusion_matrix"] == expected
    assert matrix_counts(page.matrix) == expected
    assert page.matrix.total() == test["num_samples"] == len(result.dataset.split("test"))
    assert [page.matrix.model().headerData(i, Qt.Orientation.Horizontal) for i in
            range(len(names))] == names
    assert [page.matrix.model().headerData(i, Qt.Orientation.Vertical) for i in
            range(len(names))] == names
    # The commonest mix-up (gold -> red) is shown first.
    assert page.cell_gallery.paths() == [p for p, c in known[1]["test"].items() if c == "red"]


def test_clicking_cells_lists_their_images(qtbot, page, known):
    result, mistakes = known
    page.state.set_result(result)
    names = result.evaluation["class_names"]
    gold, green, red, blue = (names.index(c) for c in ("gold", "green", "red", "blue"))
    click_cell(qtbot, page.matrix, green, blue)
    assert page.cell_gallery.paths() == [p for p, c in mistakes["test"].items() if c == "blue"]
    assert "green predicted as blue: 1 image" in page.cell_gallery.caption.text()
    click_cell(qtbot, page.matrix, gold, red)
    assert sorted(page.cell_gallery.paths()) == sorted(files_of(result, "test", "gold")[:2])
    assert "gold predicted as red: 2 images" in page.cell_gallery.caption.text()
    # Diagonal: the class's correctly classified files, from the dataset split.
    click_cell(qtbot, page.matrix, green, green)
    assert page.cell_gallery.paths() == files_of(result, "test", "green")[1:]
    click_cell(qtbot, page.matrix, red, red)
    assert page.cell_gallery.paths() == files_of(result, "test", "red")
    assert "red predicted correctly" in page.cell_gallery.caption.text()
    click_cell(qtbot, page.matrix, red, blue)  # an empty cell
    assert page.cell_gallery.paths() == []
    click_cell(qtbot, page.matrix, red, blue)  # clicking the current cell again still reports
    wait_thumbnails(qtbot, page.cell_gallery)


def test_per_class_table_matches_and_sorts(page, known):
    result, _ = known
    page.state.set_result(result)
    table = page.per_class
    rows = result.evaluation["splits"]["test"]["per_class"]
    assert table.rowCount() == len(rows)
    shown = [[table.item(r, c).text() for c in range(5)] for r in range(table.rowCount())]
    assert shown == [[row["class"], f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                      f"{row['f1']:.3f}", str(row["support"])] for row in rows]
    table.sortByColumn(3, Qt.SortOrder.AscendingOrder)
    f1 = [float(table.item(r, 3).text()) for r in range(table.rowCount())]
    assert f1 == sorted(f1) and f1[0] < f1[-1]
    assert table.item(0, 0).text() == "gold"  # recall 1/3


def test_switching_split_updates_every_view(qtbot, page, known):
    result, mistakes = known
    page.state.set_result(result)
    headline = page.headline.text()
    page.set_split("val")
    val = result.evaluation["splits"]["val"]
    assert page.split_combo.currentText() == "Validation"
    assert page.current_split() == "val"
    assert matrix_counts(page.matrix) == val["confusion_matrix"]
    assert page.matrix.total() == val["num_samples"]
    assert page.mistakes.paths() == list(mistakes["val"])
    assert "validation" in page.mistakes.caption.text()
    assert page.per_class.item(0, 1).text() == f"{val['per_class'][0]['precision']:.3f}"
    assert page.headline.text() == headline  # the headline stays on the primary split
    names = result.evaluation["class_names"]
    red = names.index("red")
    click_cell(qtbot, page.matrix, red, red)
    assert page.cell_gallery.paths() == files_of(result, "val", "red")[1:]
    page.set_split("test")
    assert matrix_counts(page.matrix) == result.evaluation["splits"]["test"]["confusion_matrix"]


def test_mistakes_gallery_and_open_in_cam(qtbot, page, known):
    result, mistakes = known
    page.state.set_result(result)
    gallery = page.mistakes
    assert gallery.list.count() == len(mistakes["test"]) == 3
    assert sorted(gallery.paths()) == sorted(mistakes["test"])
    assert "Misclassified test images: 3" in gallery.caption.text()
    wait_thumbnails(qtbot, gallery)
    assert not gallery.list.item(0).icon().isNull()
    assert not gallery.cam_action.isEnabled()
    row = gallery.paths().index(files_of(result, "test", "green")[0])
    item = gallery.list.item(row)
    assert item.text() == "green → blue (90%)"
    rect = gallery.list.visualItemRect(item)
    # QTest's double-click is a press and a double-click event: click first, as a user does.
    qtbot.mouseClick(gallery.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(page.openInCam, timeout=2000) as blocker:
        qtbot.mouseDClick(gallery.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [files_of(result, "test", "green")[0], "green", "blue"]
    assert gallery.cam_action.isEnabled() and gallery.open_action.isEnabled()
    gallery.list.setCurrentRow(0)
    first = gallery.paths()[0]
    with qtbot.waitSignal(page.openInCam, timeout=2000) as blocker:
        gallery.cam_action.trigger()  # the context-menu action and the button
    assert blocker.args == [first, "gold", "red"]
    gallery.list.setFocus()
    with qtbot.waitSignal(page.openInCam, timeout=2000):
        qtbot.keyClick(gallery.list, Qt.Key.Key_Return)


def test_cancelled_note_and_empty_states(qtbot, page, known, real_result):
    assert page.stack.currentIndex() == 0
    assert page.empty.text() == "Train a model to see its results here."
    page.state.set_result(dataclasses.replace(known[0], cancelled=True,
                                              stop_reason="stopped by the user"))
    assert page.stack.currentIndex() == 1
    assert not page.note.isHidden() and "cancelled" in page.note.text()
    assert "stopped by the user" in page.details.text()
    page.state.set_result(None)
    assert page.stack.currentIndex() == 0
    assert "Train a model" in page.empty.text()
    assert page.mistakes.list.count() == 0 and page.cell_gallery.list.count() == 0
    page.state.set_result(dataclasses.replace(real_result, evaluation=None, cancelled=True))
    assert page.stack.currentIndex() == 0 and "stopped before" in page.empty.text()
    page.state.set_result(real_result)
    assert page.note.isHidden()


def test_only_present_splits_are_offered(page, known):
    result, _ = known
    evaluation = {**result.evaluation, "primary_split": "val",
                  "splits": {"val": result.evaluation["splits"]["val"]}}
    page.state.set_result(dataclasses.replace(result, evaluation=evaluation))
    assert page.split_combo.count() == 1 and page.split_combo.currentText() == "Validation"
    assert page.headline.text().startswith("Validation accuracy")
    assert page.matrix.total() == evaluation["splits"]["val"]["num_samples"]


# --------------------------------------------------------------------------- widgets
def test_confusion_matrix_view_tooltips_colours_and_keyboard(qtbot):
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    counts = [[141, 12, 1], [3, 150, 0], [0, 0, 0]]
    view.set_matrix(counts, ["ants", "bees", "wasps"])
    assert view.total() == 307 and view.count(0, 1) == 12
    model = view.model()
    assert model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) == (
        "12 images of 'ants' predicted as 'bees' (7.8% of ants)")
    assert model.index(0, 2).data(Qt.ItemDataRole.ToolTipRole) == (
        "1 image of 'ants' predicted as 'wasps' (0.6% of ants)")
    assert "predicted correctly" in model.index(1, 1).data(Qt.ItemDataRole.ToolTipRole)

    def bg(t, p) -> QColor:
        return model.index(t, p).data(Qt.ItemDataRole.BackgroundRole).color()

    assert bg(0, 0).green() > bg(0, 0).red()  # diagonal: green-ish
    assert bg(0, 1).red() > bg(0, 1).green()  # off-diagonal: red-ish
    assert bg(0, 0).lightness() < bg(0, 1).lightness()  # a larger share is stronger
    assert bg(2, 2) == bg(1, 2) == view.palette().base().color()  # empty cells stay plain
    with pytest.raises(ValueError):
        view.set_matrix([[1, 2]], ["a", "b"])
    view.setFocus()
    click_cell(qtbot, view, 1, 1)
    with qtbot.waitSignal(view.cellActivated, timeout=2000) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Right)
    assert blocker.args == [1, 2]


def test_thumbnails_load_off_the_gui_thread_and_survive_bad_files(qtbot, tmp_path, monkeypatch):
    good = tmp_path / "good.png"
    Image.new("RGB", (300, 150), (10, 200, 30)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    threads = []
    real_open = thumbnails.open_image_rgb

    def spy(path):
        threads.append(threading.get_ident())
        return real_open(path)

    monkeypatch.setattr(thumbnails, "open_image_rgb", spy)
    gallery = ImageGallery({})
    qtbot.addWidget(gallery)
    entries = [Entry(str(good), "good", "a", "b"), Entry(str(bad), "bad", "a", "a")]
    with qtbot.waitSignal(gallery.thumbnailsLoaded, timeout=5000):
        gallery.set_images(entries, "two")
    gallery.shutdown()
    assert threads and threading.get_ident() not in threads
    image = gallery.list.item(0).icon().pixmap(THUMB).toImage()
    assert (image.width(), image.height()) == (THUMB, THUMB)
    middle, top = image.pixelColor(48, 48), image.pixelColor(48, 5)  # 300x150 -> 96x48, centred
    assert (middle.red(), middle.green(), middle.blue(), middle.alpha()) == (10, 200, 30, 255)
    assert top.alpha() == 0
    assert not gallery.list.item(1).icon().isNull()  # a warning tile, not a crash
    assert gallery.list.item(1).toolTip().startswith(str(bad) + "\n")  # ... and the reason
    # Cached thumbnails are reused without a new job.
    with qtbot.waitSignal(gallery.thumbnailsLoaded, timeout=1000):
        gallery.set_images(entries[:1], "one")
    assert len(threads) == 2
    assert gallery.list.item(0).toolTip() == str(good)
    # The context menu shows the list's actions (the menu is modal, so its actions are tested).
    assert [a.text() for a in gallery.list.actions()] == ["Explain with CAM…", "Open image"]
