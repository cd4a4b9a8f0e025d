"""The Model page's "Which backbone?" (issue 15): `rank_job` ranks the Data page's scan without
scanning again (its corrections count), and the window ranks Lite0 and the tiny test net in the
background, shows a row per backbone (those whose weights are not here are named, with where to get them),
recommends one, and "Use" makes the chosen row the Model page's backbone. Stop and closing the
window during a ranking stop it cleanly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.data.corrections import DataCorrections
from transfer_gui.core.jobs.rank import folds_for, rank_job
from transfer_gui.core.jobs.state import RecordingState
from transfer_gui.core.models import DOWNLOAD_NEEDED, availability, get_backbone

TIMEOUT = 60_000


@pytest.fixture(autouse=True)
def ranked_here(monkeypatch, tiny_backbone):
    """An in-memory feature cache; backbones on offer: Lite0, the tiny test net and VGG-16
    (whose weights are not here); and no dataset scan inside the ranking (`scans` counts
    attempts: the Data page's scan must be reused)."""
    from transfer_gui.core import rank
    from transfer_gui.core.features import FeatureCache

    cache = FeatureCache()
    monkeypatch.setattr("transfer_gui.core.jobs.rank.default_feature_cache", lambda: cache)
    offered = [get_backbone(n) for n in ("efficientnet_lite0", tiny_backbone.name, "vgg16")]
    monkeypatch.setattr(rank, "all_backbones", lambda: offered)
    scans = []

    def no_scan(*args, **kwargs):
        scans.append(args)
        raise AssertionError("the ranking scanned the folder again")

    monkeypatch.setattr(rank, "scan_dataset", no_scan)
    assert availability(offered[2]) == DOWNLOAD_NEEDED
    return scans


def test_rank_job_ranks_the_given_scan_with_its_corrections(tmp_path, tiny_backbone, ranked_here):
    root = make_color_dataset(tmp_path / "d", per_class=6)
    scan = scan_dataset(root)
    left_out = scan.samples[0].path
    corrected = DataCorrections().excluding(str(root), left_out, "test").applied(scan)
    state = RecordingState()
    ranking = rank_job(state, corrected, [tiny_backbone.name], estimate=False)
    assert ranked_here == []  # not scanned again
    assert ranking.num_images == len(scan.samples) - 1 == 17
    assert ranking.folds == 5 and [r.backbone for r in ranking.ranked] == [tiny_backbone.name]
    assert state.progresses[-1].fraction == 1.0
    # a class of 3 pictures: 3 folds, not an error that names a command-line flag
    small = DataCorrections()
    for sample in [s for s in scan.samples if s.label == 0][:3]:
        small = small.excluding(str(root), sample.path, "test")
    assert folds_for(small.applied(scan)) == 3


# ------------------------------------------------------------------------------ the window
@pytest.fixture
def page(qtbot, tmp_path):
    from transfer_gui.ui.model.model_page import ModelPage
    from transfer_gui.ui.state import AppState

    state = AppState()
    page = ModelPage(state)
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    yield page
    page.shutdown()


def with_dataset(page, tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=6)
    page.state.set_dataset(str(root), scan_dataset(root))
    return root


def test_needs_a_dataset_then_ranks_and_use_picks_the_backbone(page, qtbot, tmp_path,
                                                              tiny_backbone, ranked_here):
    button = page.which_button
    assert not button.isEnabled() and "Data page" in button.toolTip()
    assert button.open_ranking() is None
    with_dataset(page, tmp_path)
    assert button.isEnabled() and button.text() == "&Which backbone?"
    dialog = button.open_ranking()
    assert dialog.is_running() and not dialog.use_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.ranking is not None, timeout=TIMEOUT)
    assert ranked_here == [] and dialog.summary.text().startswith("<b>Use ")
    ranking = dialog.ranking
    assert {r.backbone for r in ranking.ranked} == {"efficientnet_lite0", tiny_backbone.name}
    assert ranking.unavailable == ["vgg16"] and ranking.fine_tuning_seconds > 0
    table = dialog.table
    assert table.rowCount() == 2
    best = ranking.ranked[0]
    assert table.item(0, 0).text() == f"{best.display_name}  (recommended)"
    assert table.item(0, 1).text().endswith("%") and "\u00b1" in table.item(0, 1).text()
    assert dialog.not_here.isVisibleTo(dialog)
    assert dialog.not_here.text().startswith("Not ranked, their weights are not on this "
                                             "computer: VGG-16. Download one on the Model page")
    assert all(table.horizontalHeaderItem(c).toolTip() for c in range(table.columnCount()))
    assert "would take about" in dialog.summary.text()
    assert dialog.use_button.text() == f"&Use {best.display_name}"
    # choose a row and use it: the Model page selects it
    row = next(i for i, r in enumerate(ranking.ranked) if r.backbone != page.state.backbone)
    other = ranking.ranked[row]  # not the Model page's backbone now
    table.selectRow(row)
    assert dialog.use_button.text() == f"&Use {other.display_name}"
    dialog.use_button.click()
    assert page.state.backbone == other.backbone and not dialog.isVisible()
    assert page.specs[page.table.selectionModel().selectedRows()[0].row()].name == other.backbone
    # opened again on the same data: the last ranking, not a new one
    assert button.open_ranking() is dialog and not dialog.is_running()
    assert dialog.ranking is ranking


def test_stop_and_close_stop_the_ranking(page, qtbot, tmp_path, monkeypatch):
    import transfer_gui.ui.model.which_backbone as which_backbone

    started = []

    def slow_job(state, scan, *args):  # stands in for the ranking: waits to be stopped
        started.append(scan)
        while True:
            state.cancel.raise_if_cancelled()
            time.sleep(0.01)

    monkeypatch.setattr(which_backbone, "rank_job", slow_job)
    with_dataset(page, tmp_path)
    dialog = page.which_button.open_ranking()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=TIMEOUT)
    assert started[0] is page.state.dataset
    assert dialog.stop_button.isVisibleTo(dialog) and not dialog.again_button.isEnabled()
    dialog.stop_button.click()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=TIMEOUT)
    assert dialog.summary.text().startswith("Ranking stopped")
    assert dialog.again_button.isEnabled() and not dialog.stop_button.isVisibleTo(dialog)
    dialog.again_button.click()  # rank again, then close the window while it runs
    qtbot.waitUntil(lambda: len(started) == 2, timeout=TIMEOUT)
    dialog.close_button.click()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=TIMEOUT)
    assert not dialog.isVisible() and dialog.ranking is None
    assert page.which_button.open_ranking() is dialog and dialog.is_running()  # ranks anew


def test_time_left_only_while_a_backbone_computes_features():
    from transfer_gui.core.jobs import Progress
    from transfer_gui.ui.model.which_backbone import _time_left

    computing = Progress(.3, "Lite2: Computing features 160/398", 99.4, "features", 160, 398)
    assert _time_left(computing) == " · about 1 min 39 s left for this backbone"
    assert _time_left(Progress(.4, "Lite2: Computing features 398/398", 0.0, "features", 398,
                               398)) == ""
    assert _time_left(Progress(.95, "Timing fine-tuning", 2.0, "estimate")) == ""


@pytest.fixture
def two_tiny_ranked(tmp_path, tiny_backbone, monkeypatch):
    """Two tiny backbones with other weights are the ones ranked (quick to ensemble)."""
    import dataclasses

    import torch

    from synthetic import TinyNet, tiny_spec
    from transfer_gui.core import rank
    from transfer_gui.core.models import register_backbone, unregister_backbone

    torch.manual_seed(7)
    torch.save(TinyNet().state_dict(), tmp_path / "b.pth")
    other = dataclasses.replace(tiny_spec(tmp_path / "b.pth", "tiny_b"),
                                display_name="Tiny test net B")
    register_backbone(other)
    monkeypatch.setattr(rank, "all_backbones", lambda: [tiny_backbone, other])
    yield
    unregister_backbone(other.name)


def test_make_an_ensemble_of_the_ranked_backbones_joins_the_project(page, qtbot, tmp_path,
                                                                   two_tiny_ranked):
    from transfer_gui.core.run import Run

    made = []
    page.which_button.runMade.connect(made.append)
    with_dataset(page, tmp_path)
    from transfer_gui.ui.model.ensemble_row import EnsembleRow

    nowhere = EnsembleRow(page.state, lambda: "auto")  # no runs folder (main_window gives one)
    qtbot.addWidget(nowhere)
    assert not nowhere.button.isEnabled() and "Rank at least two" in nowhere.button.toolTip()
    page.which_button.runs_root = lambda: tmp_path / "runs"
    dialog = page.which_button.open_ranking()
    row = dialog.ensemble
    qtbot.waitUntil(lambda: dialog.ranking is not None, timeout=TIMEOUT)
    assert row.button.isEnabled() and row.candidates() == [r.backbone for r in
                                                           dialog.ranking.ranked]
    row.button.click()
    assert row.is_running() and not row.button.isEnabled()
    qtbot.waitUntil(lambda: not row.is_running(), timeout=TIMEOUT)
    report = row.report
    assert report is not None, row.outcome.text()
    assert made and made[0].run_dir == Path(report.run_dir)
    assert Path(report.run_dir).parent == tmp_path / "runs"
    assert made[0].has_model and made[0].best["epoch"] == 0
    members = Run(report.run_dir).ensemble_members()
    if report.kept == "ensemble":
        assert row.outcome.text().startswith("<b>Ensemble of ") and len(members) == 2
    else:
        assert " alone is kept:" in row.outcome.text() and members == []
    assert "run of the project" in row.outcome.text()
