"""Render every wizard page at 1280x800 to PNG files (the README shows them).

Drives the real main window offscreen through a real run: scan a dataset, pick Lite0 and feature
extraction, train, show the results. Uses hymenoptera_data beside the checkout when present.

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

import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtCore import QSettings  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "hymenoptera_data"


def wait_until(app, condition, timeout: float = 300) -> None:
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
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    from transfer_gui.core.runtime import tune_memory_allocator
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow

    tune_memory_allocator()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = create_app(sys.argv[:1])
    work = Path(tempfile.mkdtemp(prefix="render_"))
    window = MainWindow(QSettings(str(work / "s.ini"), QSettings.Format.IniFormat),
                        runs_root=work / "runs")
    window.resize(1280, 800)
    window.show()

    def shot(name: str) -> None:
        settle(app)
        window.grab().save(str(out / f"{name}.png"))
        print(out / f"{name}.png")

    window.data_page.open_folder(args.data)
    wait_until(app, lambda: window.state.dataset is not None)
    settle(app, 2.0)  # thumbnails
    shot("1-data")
    window.go_to(1)
    shot("2-model")
    window.go_to(2)
    window.settings_page.show_advanced.setChecked(True)
    window.settings_page.epochs.setValue(args.epochs)
    shot("3-settings")
    window.go_to(3)
    done = []
    window.train_page.trainingFinished.connect(done.append)
    window.train_page.start()
    wait_until(app, lambda: bool(done), 900)
    shot("4-train")
    window.go_to(4)
    settle(app, 2.0)  # gallery thumbnails
    shot("5-results")
    mistakes = window.state.result.evaluation["splits"]["val"]["misclassified"]
    path = mistakes[0]["file"] if mistakes else window.state.dataset.split("val")[0].path
    window.open_in_cam(path)
    panel = window.cam_panel
    panel.resize(1280, 800)
    wait_until(app, lambda: panel.current is not None)
    settle(app)
    panel.grab().save(str(out / "6-cam.png"))
    print(out / "6-cam.png")
    panel.close()
    window.go_to(5)
    val_folder = Path(window.state.dataset.split("val")[0].path).parent
    window.predict_page.add_paths([str(val_folder)])
    wait_until(app, lambda: not window.predict_page.is_running() and window.predict_page.predictions)
    settle(app, 2.0)
    shot("7-predict")
    window.open_compare()
    compare = window.compare_view
    compare.resize(1280, 800)
    settle(app)
    compare.grab().save(str(out / "8-compare.png"))
    print(out / "8-compare.png")
    window.projects.dirty = False  # no unsaved-runs prompt in a script
    window.close()


if __name__ == "__main__":
    main()
