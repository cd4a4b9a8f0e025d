"""Render every page and window at 1366x768 (a laptop screen) to PNG files the README shows.

Drives the real main window offscreen through two real runs on a generated 10-class dataset
whose class names include long and Japanese ones: scan, the data check ("Check data…" on a few
planted problems: a copy, the same photo in two classes, a blank picture, two pictures in the
wrong class), "Which backbone?" (the backbones here ranked), Lite0 feature extraction, then a
short fine-tuning run, Results (with the Run picker) and its likely label errors, CAM, Predict
(new images, some unlike any class: noise and line drawings), Compare with new images, Compare
runs and Export. It also prints each window's minimum size, which must fit 1366x700.

    python docs/render_pages.py [--data DIR] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # synthetic.py: the generated dataset

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PIL import Image  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

SIZE = (1366, 768)
CLASSES = {  # class folder name -> colour of its shapes
    "red": (215, 50, 45), "green": (45, 175, 70), "blue": (50, 80, 210),
    "yellow": (225, 200, 40), "purple": (140, 60, 170), "cyan": (40, 190, 200),
    "orange shapes photographed under a lamp": (240, 140, 30),
    "pink": (235, 120, 180), "茶色の図形（顕微鏡写真）": (120, 75, 40), "white": (240, 240, 240)}


def make_dataset(root: Path, per_class: int = 24, size: int = 128) -> Path:
    """Coloured discs and squares on textured noise; the class is the colour."""
    from synthetic import render_shape

    rng = np.random.default_rng(0)
    for name, colour in CLASSES.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels, _ = render_shape(rng, colour, size)
            Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return root


def plant_problems(root: Path) -> Path:
    """What "Check data…" should find: an extra copy in one class, the same photo in two
    classes, a blank picture, and two pictures in the wrong class folder."""
    import shutil

    shutil.copy(root / "red" / "000.png", root / "red" / "000 copy.png")
    shutil.copy(root / "green" / "001.png", root / "cyan" / "from green 001.png")
    Image.new("RGB", (128, 128), (3, 3, 3)).save(root / "white" / "blank.png")
    (root / "blue" / "002.png").rename(root / "purple" / "002.png")
    (root / "yellow" / "003.png").rename(root / "pink" / "003.png")
    return root


def make_new_images(root: Path, size: int = 128) -> Path:
    """New images to predict: a few shapes like the training ones, and some unlike any class
    (noise and line drawings), which the Predict table flags."""
    from synthetic import render_shape

    rng = np.random.default_rng(7)
    root.mkdir(parents=True, exist_ok=True)
    for name in ("red", "green", "blue", "orange shapes photographed under a lamp", "white"):
        for i in range(2):
            pixels, _ = render_shape(rng, CLASSES[name], size)
            Image.fromarray(pixels).save(root / f"{name[:12]} {i}.png")
    for i in range(3):
        noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(noise).save(root / f"noise {i}.png")
        drawing = np.full((size, size, 3), 255, np.uint8)
        drawing[20 + 30 * i:25 + 30 * i, :] = 0
        drawing[:, 40 + 20 * i:45 + 20 * i] = 0
        Image.fromarray(drawing).save(root / f"drawing {i}.png")
    return root


def wait_until(app, condition, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def settle(app, seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a dataset folder (default: a generated 10-class set)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--epochs", type=int, default=10, help="feature extraction's epochs")
    args = parser.parse_args()
    from transfer_gui.core.runtime import tune_memory_allocator
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow

    tune_memory_allocator()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = create_app(sys.argv[:1])
    work = Path(tempfile.mkdtemp(prefix="render_"))
    data = args.data or str(plant_problems(make_dataset(work / "shapes")))
    window = MainWindow(QSettings(str(work / "s.ini"), QSettings.Format.IniFormat),
                        runs_root=work / "runs")
    window.resize(*SIZE)
    window.show()

    def shot(widget, name: str, seconds: float = 0.5) -> None:
        settle(app, seconds)
        widget.grab().save(str(out / f"{name}.png"))
        hint = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        print(f"{out / name}.png  (minimum size {hint.width()}x{hint.height()})")

    window.data_page.open_folder(data)
    wait_until(app, lambda: window.state.dataset is not None)
    shot(window, "1-data", 2.0)  # thumbnails
    doctor = window.data_page.doctor_button.open_check()  # "Check data…", its default size
    wait_until(app, lambda: doctor.report is not None)
    shot(doctor, "10-doctor", 2.0)
    doctor.reject()
    window.go_to(1)
    shot(window, "2-model")
    ranking = window.model_page.which_button.open_ranking()  # "Which backbone?", default size
    wait_until(app, lambda: ranking.ranking is not None)
    shot(ranking, "13-which-backbone")
    ranking.reject()
    window.go_to(2)
    window.settings_page.show_advanced.setChecked(True)
    window.settings_page.epochs.setValue(args.epochs)
    shot(window, "3-settings")

    def train() -> None:
        window.go_to(3)
        done = []
        window.train_page.trainingFinished.connect(done.append)
        window.train_page.start()
        wait_until(app, lambda: bool(done))
        window.train_page.trainingFinished.disconnect(done.append)

    train()  # feature extraction: the recommended first try
    window.state.set_mode("fine_tuning")
    window.state.set_setting("epochs", 2)
    train()
    shot(window, "4-train")
    window.go_to(4)
    shot(window, "5-results", 2.0)  # gallery thumbnails
    review = window.results_page.label_review.open_review()  # "Likely label errors…"
    wait_until(app, lambda: review.review is not None)
    shot(review, "11-label-review", 2.0)
    review.reject()
    evaluation = window.state.result.evaluation
    mistakes = evaluation["splits"][evaluation["primary_split"]]["misclassified"]
    path = mistakes[0]["file"] if mistakes else window.state.dataset.split("val")[0].path
    window.open_in_cam(path)
    panel = window.cam_panel
    panel.resize(*SIZE)
    wait_until(app, lambda: panel.current is not None)
    shot(panel, "6-cam")
    panel.close()
    window.go_to(5)
    new_images = make_new_images(work / "new images")
    window.predict_page.add_paths([str(new_images)])
    wait_until(app, lambda: not window.predict_page.is_running() and window.predict_page.predictions)
    shot(window, "7-predict", 2.0)
    shift = window.predict_page.shift_button.compare(str(new_images))  # its default size
    wait_until(app, lambda: shift.report is not None and not shift.is_running())
    shot(shift, "12-shift")
    window.predict_page.shift_button.shutdown()
    window.open_compare()
    compare = window.compare_view
    compare.resize(*SIZE)
    shot(compare, "8-compare")
    compare.close()
    window.open_export()
    shot(window.export_dialog, "9-export")
    window.export_dialog.reject()
    window.projects.dirty = False  # no unsaved-runs prompt in a script
    window.close()


if __name__ == "__main__":
    main()
