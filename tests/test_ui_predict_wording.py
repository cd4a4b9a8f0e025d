"""Predict (issue 12.17, 12.10): Top-3 reads clearly in any script, the CSV's uncertain column,
and the page says which run's model it uses, warning about a run from another dataset."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

from transfer_gui.core.predict import Prediction
from transfer_gui.ui.model_in_use import ModelInUse
from transfer_gui.ui.predict.predict_rows import top_text, write_predictions_csv
from transfer_gui.ui.state import AppState


def prediction(path, top, error=""):
    return Prediction(path=path, predicted=top[0][0] if top else "",
                      probability=top[0][1] if top else 0.0, top=top, error=error)


def test_top3_brackets_each_probability_so_numbers_never_run_together():
    p = prediction("a.png", [("ゼロ", 0.97), ("1", 0.02), ("2", 0.004)])
    assert top_text(p) == "ゼロ (97%) · 1 (2%) · 2 (<1%)"
    assert top_text(prediction("b.png", [("cats", 0.5), ("dogs", 0.0)])) == \
        "cats (50%) · dogs (0%)"


def test_csv_carries_the_uncertain_flag(tmp_path):
    rows = [prediction("sure.png", [("a", 0.9), ("b", 0.1)]),
            prediction("unsure.png", [("a", 0.55), ("b", 0.45)]),
            prediction("bad.png", [], error="cannot identify image file")]
    out = write_predictions_csv(tmp_path / "p.csv", rows, threshold=0.7)
    table = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["uncertain"] for r in table] == ["no", "yes", ""]
    assert table[2]["error"] == "cannot identify image file"


def test_unlike_the_training_data_outranks_uncertain_and_an_old_model_leaves_it_empty(
        tmp_path, qtbot):
    from dataclasses import replace

    from transfer_gui.ui.predict.predict_rows import flag_for
    from transfer_gui.ui.predict.predict_table import COL_FLAG, COL_UNLIKE, PredictionTable

    base = prediction("x.png", [("a", 0.55), ("b", 0.45)])
    far = replace(base, path="far.png", unlike_score=3.2, unlike_training=True)
    near = replace(base, path="near.png", unlike_score=0.4, unlike_training=False)
    old = replace(base, path="old.png")  # a model saved without the check
    assert [flag_for(p, 0.7) for p in (far, near, old)] == ["unlike", "uncertain", "uncertain"]
    table = list(csv.DictReader(open(write_predictions_csv(tmp_path / "p.csv", [far, near, old],
                                                           threshold=0.7), encoding="utf-8")))
    assert [(r["unlike_score"], r["unlike_training"], r["uncertain"]) for r in table] == [
        ("3.20", "not like any training class", "yes"), ("0.40", "", "yes"), ("", "", "yes")]
    view = PredictionTable(0.7)
    qtbot.addWidget(view)
    view.append_predictions([far, near, old])
    assert [view.item(r, COL_FLAG).text() for r in range(3)] == [
        "Not like any training class", "Uncertain", "Uncertain"]
    old_cell = view.item(2, COL_UNLIKE)
    assert old_cell.text() == "" and "older model" in old_cell.toolTip()
    assert view.uncertain_count() == 3 and view.unlike_count() == 1


def fake_result(run_dir: Path, data_dir: Path):
    return SimpleNamespace(run_dir=run_dir, config=SimpleNamespace(data_dir=str(data_dir)))


def test_model_in_use_names_the_run_and_warns_about_another_dataset(qtbot, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr(ModelInUse, "run_label",
                        lambda self, n, run: f"{n} · Fine-tuning · Tiny · 93.5%")
    state = AppState()
    label = ModelInUse(state)
    qtbot.addWidget(label)
    assert label.isHidden()  # no run, nothing to say
    run = tmp_path / "run1"
    state.runs = [run]
    state.set_dataset(str(tmp_path / "ants"), None)
    state.set_result(fake_result(run, tmp_path / "ants"))
    assert label.text() == "Model in use: run 1 · Fine-tuning · Tiny · 93.5%"
    assert not label.isHidden()
    state.set_dataset(str(tmp_path / "clothes"), None)  # another dataset opened
    assert label.text().startswith("⚠ Model in use: run 1")
    assert "trained on another dataset" in label.text() and str(tmp_path / "ants") in label.text()


def test_results_page_names_the_run_and_flags_another_datasets_run(make_window, qtbot,
                                                                    tmp_path):
    from fake_runs import write_run
    from synthetic import make_color_dataset
    from transfer_gui.core.run_result import load_run_result

    ants = make_color_dataset(tmp_path / "ants", per_class=6)
    clothes = make_color_dataset(tmp_path / "clothes", per_class=6, seed=3)
    window = make_window()
    window.data_page.open_folder(str(ants))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    window.state.add_run(load_run_result(write_run(tmp_path / "run1", ants)))
    label = window.results_page.model_in_use
    assert label.text().startswith("Model in use: run 1 · ")
    window.data_page.open_folder(str(clothes))
    qtbot.waitUntil(lambda: window.state.dataset is not None
                    and window.state.dataset.root == str(clothes), timeout=20_000)
    for page_label in (label, window.predict_page.model_in_use):
        assert "trained on another dataset" in page_label.text()
        assert str(ants) in page_label.text()
