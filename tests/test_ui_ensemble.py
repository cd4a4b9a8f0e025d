"""An ensemble run (core/ensemble) in the app: the Results page shows its scores, the Predict
page predicts with every member averaged, and a saved project reopens it as an ensemble. The app
cannot build an ensemble yet (`transfer-gui ensemble` does); these check that it reads one."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402  (before PySide6, as the app does)

from synthetic import TinyNet, make_color_dataset, tiny_spec  # noqa: E402
from transfer_gui.core.ensemble.build import build_ensemble  # noqa: E402
from transfer_gui.core.ensemble.ensemble_file import LoadedEnsemble  # noqa: E402
from transfer_gui.core.evaluation import describe_accuracy  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.model_file import load_model  # noqa: E402
from transfer_gui.core.models import Preprocessing, register_backbone, unregister_backbone  # noqa: E402
from transfer_gui.core.predict import predict_images  # noqa: E402
from transfer_gui.core.run_result import load_run_result  # noqa: E402
from transfer_gui.ui.predict.predict_page import COL_CONFIDENCE, COL_PREDICTED  # noqa: E402


@pytest.fixture
def ensemble_run(tmp_path):
    torch.manual_seed(7)
    torch.save(TinyNet().state_dict(), tmp_path / "b.pth")
    a = tiny_spec(tmp_path / "a.pth", "tiny_a")
    b = dataclasses.replace(tiny_spec(tmp_path / "b.pth", "tiny_b"),
                            preprocessing=Preprocessing(40, 45, (0.45, 0.4, 0.35), (0.3, 0.2, 0.25)))
    for spec in (a, b):
        register_backbone(spec)
    data = make_color_dataset(tmp_path / "project" / "data", per_class=9)
    build_ensemble(str(data), tmp_path / "trained" / "ensemble", ["tiny_a", "tiny_b"], folds=3,
                   keep_ensemble=True, cache=FeatureCache())
    yield data, load_run_result(tmp_path / "trained" / "ensemble")
    for spec in (a, b):
        unregister_backbone(spec.name)


def test_results_predict_and_project_reopen_take_an_ensemble(qtbot, make_window, ensemble_run,
                                                             tmp_path):
    data, result = ensemble_run
    assert result.has_model and result.best["epoch"] == 0  # or a project leaves it out
    window = make_window()
    window.data_page.open_folder(str(data))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    window.state.set_result(result)
    window.train_page.trainingFinished.emit(result)
    page = window.results_page
    primary = result.evaluation["primary_split"]
    assert page.headline.text() == (f"{page.split_label(primary)} accuracy "
                                    f"{describe_accuracy(result.evaluation['splits'][primary])}")
    assert page.matrix.total() == result.evaluation["splits"][page.current_split()]["num_samples"]

    predict = window.predict_page
    assert predict.model_path().resolve() == (result.run_dir / "model.pt").resolve()
    files = sorted(str(p) for p in (data / "red").iterdir())[:4]
    with qtbot.waitSignal(predict.runner.stopped, timeout=60_000):
        predict.add_paths(files)
    qtbot.waitUntil(lambda: not predict.is_running(), timeout=60_000)
    expected = list(predict_images(load_model(result.run_dir), files, top_k=3))
    assert predict.table.rowCount() == 4
    for row, p in enumerate(expected):
        assert predict.table.item(row, COL_PREDICTED).text() == p.predicted
        assert predict.table.item(row, COL_CONFIDENCE).text() == f"{p.probability * 100:.1f}%"
        assert predict.predictions[row].probability == pytest.approx(p.probability, abs=1e-5)

    path = tmp_path / "project" / "ensemble.tgproj"
    assert window.projects.save_to(path)
    again = make_window()
    assert again.projects.open(str(path))
    qtbot.waitUntil(lambda: again.state.result is not None, timeout=60_000)
    run = again.state.runs[0]
    assert run.parent != result.run_dir.parent  # the project's own copy
    reopened = load_model(run)
    assert isinstance(reopened, LoadedEnsemble) and len(reopened.members) == 2
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        assert np.allclose(reopened.model(x), load_model(result.run_dir).model(x), atol=1e-6)
    assert again.results_page.headline.text() == page.headline.text()


def test_the_cam_panel_explains_each_member_of_an_ensemble(qtbot, make_window, ensemble_run):
    data, result = ensemble_run
    window = make_window()
    window.data_page.open_folder(str(data))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    window.state.set_result(result)
    image = sorted(str(p) for p in (data / "red").iterdir())[0]
    window.open_in_cam(image)
    panel = window.cam_panel
    assert panel.member.isVisibleTo(panel) and panel.member.count() == 2
    assert "Ensemble · Tiny test net + Tiny test net · " in panel.model_in_use.text()
    qtbot.waitUntil(lambda: panel.current is not None, timeout=60_000)
    first = panel.current.explanation
    assert panel.member_index() == 0 and "alone:" in panel.verdict.text()
    from transfer_gui.core.cam.explain import explain_image

    members = load_model(result.run_dir).members
    own = [explain_image(m, image) for m in members]  # each member's own map and prediction
    assert first.predicted_probability == pytest.approx(own[0].predicted_probability, abs=1e-5)
    assert np.allclose(first.map_original, own[0].map_original, atol=1e-4)
    panel.current = None
    panel.member.setCurrentIndex(1)  # the other member's map: computed again
    qtbot.waitUntil(lambda: panel.current is not None, timeout=60_000)
    assert panel.member_index() == 1
    second = panel.current.explanation
    assert second.predicted_probability == pytest.approx(own[1].predicted_probability, abs=1e-5)
    assert np.allclose(second.map_original, own[1].map_original, atol=1e-4)
    # an ordinary run hides the choice
    panel.set_model(panel.model_path, result.dataset.class_names, ["block2"])
    assert not panel.member.isVisibleTo(panel) and panel.member_index() is None
