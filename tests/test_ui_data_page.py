"""The Data page: scanning off the GUI thread, what it shows, recent folders, drops, shutdown."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QThread, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
                               QAbstractButton, QAbstractItemView, QApplication, QComboBox, QFileDialog, QHeaderView,
                               )

from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.errors import Cancelled
from transfer_gui.ui import thumbnails
from transfer_gui.ui.data import data_page
from transfer_gui.ui.data.data_page import DataPage
from transfer_gui.ui.state import AppState
from transfer_gui.ui.thumbnails import ThumbnailLoader, ThumbnailStrip
from ui_helpers import reopened

TIMEOUT = 10_000


@pytest.fixture
def make_page(qtbot, settings):
    pages = []

    def make(page_settings=None):
        page = DataPage(AppState(), page_settings or settings)
        qtbot.addWidget(page)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.shutdown()


def scanned(qtbot, page, root=None):
    qtbot.waitUntil(lambda: page.state.dataset is not None
                    and (root is None or page.state.dataset.root == str(root)), timeout=TIMEOUT)
    return page.state.dataset


def table_rows(table):
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_open_folder_scans_and_fills_the_class_table(make_page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "colors", per_class=10)
    page = make_page()
    assert page.title() == "Data"
    assert page.blocker() == "Choose a folder with one subfolder per class."
    changes = []
    page.completeChanged.connect(lambda: changes.append(page.blocker()))
    page.open_folder(str(root))
    assert page.blocker() == "Scanning the folder…"
    scan = scanned(qtbot, page)
    assert page.blocker() == ""
    assert changes == ["Scanning the folder…", ""]
    assert page.state.data_dir == str(root)
    expected = scan_dataset(root).counts()
    rows = table_rows(page.class_table)
    assert [r[0] for r in rows] == scan.class_names == ["blue", "green", "red"]
    for name, train, val, test, total in rows:
        c = expected[name]
        assert [int(train), int(val), int(test), int(total)] == [
            c["train"], c["val"], c["test"], sum(c.values())]
    table = page.class_table
    assert table.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    assert table.isSortingEnabled()
    assert "One folder per class" in page.layout_label.text()
    assert page.folder_label.text() == str(root)
    assert page.skipped_group.isHidden()
    assert not page.results.isHidden() and page.error_label.isHidden()


def test_layout_described_in_words_for_split_folders(make_page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "splits", per_class=12, layout="splits")
    page = make_page()
    page.open_folder(str(root))
    scanned(qtbot, page)
    assert page.layout_label.text() == "Folders train/ and val/ found; no test split."
    (root / "val").rename(root / "test")
    page.open_folder(str(root))
    scanned(qtbot, page)
    assert page.layout_label.text() == (
        "Folders train/ and test/ found; validation split made from train.")


def test_skipped_files_listed_with_reasons(make_page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "colors", per_class=10)
    (root / "red" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    (root / "green" / "notes.txt").write_text("not an image")
    page = make_page()
    page.open_folder(str(root))
    scanned(qtbot, page)
    assert not page.skipped_group.isHidden()
    assert page.skipped_group.title() == "Skipped files (2)"
    rows = dict(table_rows(page.skipped_table))
    assert set(rows) == {os.path.join("red", "corrupt.png"), os.path.join("green", "notes.txt")}
    assert rows[os.path.join("red", "corrupt.png")] == "truncated image data"
    assert rows[os.path.join("green", "notes.txt")] == "not an image type (.txt)"
    assert "2 files were skipped" in page.warnings_label.text()
    assert not page.warnings_group.isHidden()


def test_dataset_error_is_explained_on_the_page(make_page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "one", classes=("red",), per_class=5)
    page = make_page()
    page.show()
    page.open_folder(str(root))
    qtbot.waitUntil(lambda: page.error_label.text() != "", timeout=TIMEOUT)
    message = page.error_label.text()
    assert "1 class folder" in message and "at least 2" in message
    assert page.error_label.isVisible() and page.error_label.wordWrap()
    assert page.blocker() == message
    assert page.state.dataset is None and page.state.data_dir == str(root)
    assert page.results.isHidden()
    assert QApplication.activeModalWidget() is None
    # a good folder afterwards clears the error
    good = make_color_dataset(tmp_path / "good", per_class=4)
    page.open_folder(str(good))
    scanned(qtbot, page)
    assert page.error_label.isHidden() and page.blocker() == ""


def test_japanese_class_names_display(make_page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "動物", classes=("猫", "犬"), per_class=6)
    page = make_page()
    page.open_folder(str(root))
    scan = scanned(qtbot, page)
    names = {row[0] for row in table_rows(page.class_table)}
    assert names == {"猫", "犬"} == set(scan.class_names)
    assert page.thumbs_group.title() in {"Examples of “猫”", "Examples of “犬”"}
    assert "動物" in page.folder_label.text()


def test_thumbnails_load_off_the_gui_thread(make_page, qtbot, tmp_path, monkeypatch):
    root = make_color_dataset(tmp_path / "colors", per_class=14)
    decode_threads = []
    real_open = thumbnails.open_image_rgb

    def recording_open(path):
        decode_threads.append(threading.get_ident())
        return real_open(path)

    monkeypatch.setattr(thumbnails, "open_image_rgb", recording_open)
    page = make_page()
    arrived = []
    page.thumbnails.thumbnailReady.connect(lambda path, image: arrived.append((path, image)))
    page.open_folder(str(root))
    scan = scanned(qtbot, page)
    qtbot.waitUntil(lambda: len(arrived) == 12, timeout=TIMEOUT)
    first = [s.path for s in scan.samples if s.label == 0][:12]
    assert [path for path, _ in arrived] == first
    assert all(not image.isNull() and max(image.width(), image.height()) <= 96
               for _, image in arrived)
    assert decode_threads and threading.get_ident() not in decode_threads
    assert page.thumb_strip.count() == 12
    assert page.thumbs_group.title() == "Examples of “blue”"
    # selecting another class loads its images
    arrived.clear()
    page.class_table.selectRow(2)
    qtbot.waitUntil(lambda: len(arrived) == 12, timeout=TIMEOUT)
    assert [p for p, _ in arrived] == [s.path for s in scan.samples if s.label == 2][:12]
    assert page.thumbs_group.title() == "Examples of “red”"


def test_thumbnail_loader_reports_unreadable_images(qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "colors", classes=("red",), per_class=1)
    good = str(root / "red" / "red_000.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 broken")
    loader = ThumbnailLoader()
    ready, failed = [], []
    loader.thumbnailReady.connect(lambda p, i: ready.append(p))
    loader.thumbnailFailed.connect(lambda p, r: failed.append((p, r)))
    with qtbot.waitSignal(loader.finished, timeout=TIMEOUT):
        loader.request([good, str(bad)], 32)
    assert ready == [good]
    assert failed and failed[0][0] == str(bad) and failed[0][1]
    assert loader.shutdown()
    strip = ThumbnailStrip(32)
    qtbot.addWidget(strip)
    with qtbot.waitSignal(strip.loader.finished, timeout=TIMEOUT):
        strip.show_images([good, str(bad)], ["red_000.png", "bad.jpg"])
    assert strip.count() == 2 and strip.item(0).toolTip() == "red_000.png"
    assert strip.item(1).toolTip() == f"bad.jpg\n{failed[0][1]}"
    assert strip.loader.shutdown()


def test_recent_folders_persist_and_restore(make_page, qtbot, tmp_path, settings):
    a = make_color_dataset(tmp_path / "a", per_class=3)
    b = make_color_dataset(tmp_path / "b", per_class=3)
    page = make_page()
    assert not page.recent_combo.isEnabled()
    page.open_folder(str(a))
    scanned(qtbot, page, a)
    page.open_folder(str(b))
    scanned(qtbot, page, b)
    on_disk = reopened(settings)
    assert list(on_disk.value("data/recent")) == [str(b), str(a)]
    on_disk.setValue("data/recent", [str(tmp_path / "gone"), str(b), str(a)])
    on_disk.sync()
    fresh = make_page(reopened(settings))
    combo = fresh.recent_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [str(b), str(a)]
    assert combo.isEnabled() and combo.currentIndex() == -1
    combo.activated.emit(1)  # the user picks the second entry
    scanned(qtbot, fresh, a)
    assert [combo.itemData(i) for i in range(combo.count())] == [str(a), str(b)]


def test_choose_button_opens_the_dialog_in_the_last_folder(make_page, qtbot, tmp_path, monkeypatch):
    a = make_color_dataset(tmp_path / "a", per_class=3)
    b = make_color_dataset(tmp_path / "b", per_class=3)
    starts = []

    def fake_dialog(parent, caption, start):
        starts.append(start)
        return str(b)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(fake_dialog))
    page = make_page()
    page.open_folder(str(a))
    scanned(qtbot, page, a)
    assert page.choose_button.text().startswith("&Choose")
    qtbot.mouseClick(page.choose_button, Qt.MouseButton.LeftButton)
    scanned(qtbot, page, b)
    assert starts == [str(a)]


def test_every_control_has_a_tooltip_and_takes_focus(make_page):
    page = make_page()
    controls = [w for w in [*page.findChildren(QAbstractButton), *page.findChildren(QComboBox),
                            *page.findChildren(QAbstractItemView)]
                if not w.objectName().startswith("qt_")  # Qt's own corner buttons, popups
                and not isinstance(w, QHeaderView) and not isinstance(w.parent(), QComboBox)
                and not isinstance(w.parent().parent(), QComboBox)]
    assert {page.choose_button, page.recent_combo, page.cancel_button, page.class_table,
            page.skipped_table, page.thumb_strip} <= set(controls)
    for control in controls:
        assert control.toolTip(), control
        assert control.focusPolicy() != Qt.FocusPolicy.NoFocus, control


def test_second_open_drops_the_first_result(make_page, qtbot, tmp_path, monkeypatch):
    a = make_color_dataset(tmp_path / "a", per_class=3)
    b = make_color_dataset(tmp_path / "b", per_class=3)

    def slow_scan(state, folder, leave_out_empty=False):
        if folder == str(a):
            time.sleep(0.5)  # ignores cancel on purpose: its late result must still be dropped
        return scan_dataset(folder)

    monkeypatch.setattr(data_page, "scan_job", slow_scan)
    page = make_page()
    seen = []
    page.state.datasetChanged.connect(
        lambda: seen.append(page.state.dataset.root if page.state.dataset else None))
    page.open_folder(str(a))
    page.open_folder(str(b))
    scanned(qtbot, page, b)
    qtbot.wait(800)  # a's job ends meanwhile
    assert page.state.dataset.root == str(b) and page.state.data_dir == str(b)
    assert str(a) not in seen
    assert page.folder_label.text() == str(b)


def _drop_event(path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    return mime, QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)


def test_dropping_a_folder_scans_it_and_a_file_is_refused(make_page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "colors", per_class=3)
    page = make_page()
    assert page.acceptDrops()
    file_path = root / "red" / "red_000.png"
    mime, _ = _drop_event(file_path)
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    page.dragEnterEvent(enter)
    assert not enter.isAccepted()
    _, drop = _drop_event(file_path)
    page.dropEvent(drop)
    assert not drop.isAccepted()
    assert "red_000.png" in page.status_label.text() and "folder" in page.status_label.text()
    assert page.state.data_dir is None
    mime, _ = _drop_event(root)
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    page.dragEnterEvent(enter)
    assert enter.isAccepted()
    _, drop = _drop_event(root)
    page.dropEvent(drop)
    assert drop.isAccepted()
    scanned(qtbot, page, root)
    assert page.status_label.text() == ""


def test_shutdown_stops_both_threads_promptly(make_page, qtbot, tmp_path, monkeypatch):
    root = make_color_dataset(tmp_path / "colors", per_class=12)
    threads = {}
    real_open = thumbnails.open_image_rgb

    def slow_open(path):
        threads["thumbs"] = QThread.currentThread()
        time.sleep(0.2)
        return real_open(path)

    def endless_scan(state, folder, leave_out_empty=False):
        threads["scan"] = QThread.currentThread()
        while not state.cancel.cancelled:
            time.sleep(0.01)
        raise Cancelled()

    monkeypatch.setattr(thumbnails, "open_image_rgb", slow_open)
    page = make_page()
    page.open_folder(str(root))
    scanned(qtbot, page)
    qtbot.waitUntil(lambda: "thumbs" in threads, timeout=TIMEOUT)
    monkeypatch.setattr(data_page, "scan_job", endless_scan)
    page.open_folder(str(tmp_path))
    qtbot.waitUntil(lambda: "scan" in threads, timeout=TIMEOUT)
    start = time.monotonic()
    page.shutdown()
    assert time.monotonic() - start < 2.0
    assert ended(threads["scan"]) and ended(threads["thumbs"])


def ended(thread):
    try:
        return thread.isFinished()
    except RuntimeError:  # already reaped (deleted), which happens only after it finished
        return True


def test_page_renders_to_png(make_page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "photos", classes=("red", "green", "blue", "猫"),
                              per_class=14, size=120)
    for i in range(10):  # imbalance and a small class, for warnings
        (root / "猫" / f"猫_{i:03d}.png").unlink()
    (root / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    (root / "blue" / "readme.txt").write_text("notes")
    page = make_page()
    page.resize(1280, 800)
    page.show()
    arrived = []
    page.thumbnails.thumbnailReady.connect(lambda p, i: arrived.append(p))
    page.open_folder(str(root))
    scanned(qtbot, page)
    qtbot.waitUntil(lambda: len(arrived) == 12, timeout=TIMEOUT)
    out = tmp_path / "data.png"
    assert page.grab().save(str(out))
    assert out.stat().st_size > 10_000
    if os.environ.get("DATA_PAGE_PNG"):
        page.grab().save(os.environ["DATA_PAGE_PNG"])
