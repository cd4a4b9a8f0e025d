"""Compare modes trains on the user's corrections (issue 14), as the Train page does: a picture
left out on the Data page stays out of all three runs, a relabelled one counts as its new class,
and each run's dataset.json records the corrections (so Run.dataset rescans it the same way)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from synthetic import make_color_dataset  # noqa: E402
from test_ui_compare_modes_plan import answer_confirmation  # noqa: E402
from transfer_gui.core.data import scan_dataset  # noqa: E402
from transfer_gui.core.data.corrections import DataCorrections  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.jobs.compare_modes import compare_modes_job  # noqa: E402
from transfer_gui.core.jobs.state import RecordingState  # noqa: E402
from transfer_gui.core.run import Run  # noqa: E402
from transfer_gui.core.training.config import MODES  # noqa: E402

TIMEOUT = 180_000
OUT = os.path.join("red", "red_000.png")
RELABELLED = os.path.join("green", "green_001.png")


@pytest.fixture(autouse=True)
def _fresh_feature_cache(monkeypatch):
    monkeypatch.setattr("transfer_gui.core.training.engine.default_feature_cache",
                        lambda: FeatureCache())


def assert_runs_use(folders, root, total):
    assert len(folders) == 3
    for folder in folders:
        run = Run.open(folder)
        recorded = run.dataset_summary()
        assert recorded["corrections"] == {"excluded": {OUT: "a copy"},
                                           "relabelled": {RELABELLED: "blue"}}, folder
        assert recorded["num_samples"] == total - 1
        assert sum(recorded["counts"]["red"].values()) == 5
        assert sum(recorded["counts"]["green"].values()) == 5
        assert sum(recorded["counts"]["blue"].values()) == 7
        again = run.dataset()
        assert str(root / OUT) not in {s.path for s in again.samples}
        assert str(root / OUT) in {s.path for s in again.skipped}


def test_compare_modes_trains_on_the_data_pages_corrections(qtbot, make_window, tiny_backbone,
                                                            tmp_path):
    root = make_color_dataset(tmp_path / "data", per_class=6)
    window = make_window()
    window.data_page.open_folder(str(root))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    state = window.state
    total = len(state.scanned.samples)
    state.set_backbone(tiny_backbone.name)
    for mode in reversed(MODES):  # ends on feature extraction, the chosen mode
        state.set_mode(mode)
        state.set_setting("epochs", 1)
        state.set_setting("batch_size", 8)
    state.set_corrections(state.corrections.excluding(str(root), str(root / OUT), "a copy")
                          .relabelling(str(root), str(root / RELABELLED), "blue"))
    assert len(state.dataset.samples) == total - 1
    window.open_compare()
    view = window.compare_view

    seen = []
    timer = answer_confirmation(qtbot, "Start", seen)
    with qtbot.waitSignal(view.runner.finished, timeout=TIMEOUT) as done:
        view.compare_button.click()
    timer.stop()
    assert_runs_use(done.args[0], root, total)


def test_the_job_applies_the_corrections_of_a_scan_with_other_split_settings(tiny_backbone,
                                                                            tmp_path):
    """A scan made with other split settings than the runs' is scanned again, and its
    corrections still apply (train_run's rule)."""
    root = make_color_dataset(tmp_path / "data", per_class=6)
    scan = scan_dataset(str(root), val_fraction=0.3, test_fraction=0.0, seed=5)
    fixes = (DataCorrections().excluding(scan.root, str(root / OUT), "a copy")
             .relabelling(scan.root, str(root / RELABELLED), "blue"))
    folders = compare_modes_job(RecordingState(), str(root), tiny_backbone.name,
                                tmp_path / "runs", {"epochs": 1, "batch_size": 8},
                                dataset=fixes.applied(scan))
    assert_runs_use(folders, root, len(scan.samples))
    assert all(Run.open(f).dataset_summary()["split_seed"] != 5 for f in folders)
