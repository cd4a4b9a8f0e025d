"""The Train page's "Run on another machine…" (issue 17): it writes a job folder for the current
settings and dataset in the background and shows the command to run elsewhere; corrections
made on the Data page, which a job cannot carry yet, are refused with a plain message."""

from __future__ import annotations

from synthetic import make_color_dataset
from transfer_gui.core.job import read_job


def opened(qtbot, make_window, tmp_path):
    window = make_window()
    data = make_color_dataset(tmp_path / "data", per_class=6)
    window.data_page.open_folder(str(data))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    return window, data


def test_the_job_is_written_and_the_command_shown(qtbot, make_window, tmp_path, tiny_backbone):
    window, data = opened(qtbot, make_window, tmp_path)
    window.state.set_backbone("tiny_test")
    window.state.set_mode("fine_tuning")
    window.state.set_setting("epochs", 3)
    button = window.train_page.job_button
    assert button.isEnabled() and button.text() == "Run on another &machine…"
    button.write(tmp_path / "job")
    qtbot.waitUntil(lambda: button.result_box is not None, timeout=30_000)
    job = read_job(tmp_path / "job")
    assert len(job.files) == 18 and job.config.epochs == 3 and job.config.mode == "fine_tuning"
    text = button.result_box.text()
    assert f"transfer-gui train --job {tmp_path / 'job'}" in text and "18 images" in text
    assert f"torchrun --nproc_per_node GPUS -m transfer_gui train --job {tmp_path / 'job'}" in text
    assert button.isEnabled()
    button.result_box.close()


def test_corrections_cannot_travel_with_a_job(qtbot, make_window, tmp_path):
    window, data = opened(qtbot, make_window, tmp_path)
    state = window.state
    first = state.dataset.samples[0].path
    state.set_corrections(state.corrections.excluding(str(data), first, "blurry"))
    button = window.train_page.job_button
    button.write(tmp_path / "job")
    assert "cannot travel with it" in button.result_box.text()
    assert not (tmp_path / "job").exists()
    button.result_box.close()
