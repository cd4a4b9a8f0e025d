"""Issue 13, options declared once: every TrainConfig option has one declaration
(core/training/options.py), and the command line, TrainConfig.validated(), the Settings page and
Compare modes all follow it."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from transfer_gui.cli import build_parser  # noqa: E402
from transfer_gui.core.errors import ConfigError  # noqa: E402
from transfer_gui.core.training.config import MODES, TrainConfig  # noqa: E402
from transfer_gui.core.training.options import (NOT_OPTIONS, OPTIONS, OPTION_BY_NAME,  # noqa: E402
                                                SHARED_OPTIONS)

NUMBERS = [o for o in OPTIONS if o.range is not None]


def train_flags() -> dict[str, argparse.Action]:
    """`transfer-gui train`'s option flags, by their dest."""
    parser = build_parser(with_options=["train"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices["train"]._actions if a.option_strings}


def test_every_field_is_declared_exactly_once():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    field_names = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(names) | set(NOT_OPTIONS) == field_names
    assert not set(names) & set(NOT_OPTIONS)
    flags = [o.flag for o in OPTIONS]
    assert len(flags) == len(set(flags))


def test_every_option_is_a_train_flag_as_declared():
    flags = train_flags()
    for option in OPTIONS:
        action = flags[option.name]
        assert action.option_strings == [option.flag]
        assert action.default is None  # unset: the mode's default
        if option.choices:
            assert tuple(action.choices) == option.choices
        if option.range is not None:  # the help says the range validated() checks
            assert option.range.describe() in action.help, option.name
    # The flag names people already use stay as they were.
    old = {"learning_rate": "--lr", "unfreeze_stages": "--unfreeze", "warmup_epochs": "--warmup",
           "feature_views": "--views", "early_stopping_patience": "--patience",
           "head_l2": "--probe-l2", "probe_start": "--no-probe-start",
           "mixed_precision": "--no-mixed-precision", "feature_cache_dir": "--cache-dir",
           "batch_size": "--batch-size", "stay_close": "--stay-close"}
    assert {name: flags[name].option_strings[0] for name in old} == old


def test_parsed_flags_reach_the_config():
    args = build_parser(with_options=["train"]).parse_args([
        "train", "--data", "d", "--out", "o", "--mode", "fine_tuning", "--lr", "0.02",
        "--unfreeze", "0", "--no-probe-start", "--no-mixed-precision", "--dropout", "0.3",
        "--leave-out-empty-classes", "--batch-norm", "train", "--seed", str(2**32 - 1)])
    config = TrainConfig.for_mode("d", "fine_tuning",
                                  **{o.name: getattr(args, o.name) for o in OPTIONS})
    assert (config.learning_rate, config.unfreeze_stages, config.probe_start) == (0.02, 0, False)
    assert (config.mixed_precision, config.dropout, config.leave_out_empty_classes) == (
        False, 0.3, True)
    assert config.batch_norm == "train" and config.seed == 2**32 - 1


def _next_to(option, end: str, inside: bool) -> float:
    """The number just inside or just outside the declared range at `end`."""
    r = option.range
    value = r.low if end == "low" else r.high
    step = 1 if option.kind == "int" else 1e-6 * max(1.0, abs(value))
    if (r.low_open if end == "low" else r.high_open) != inside:
        return value
    return value - step if (end == "low") != inside else value + step


@pytest.mark.parametrize("option", NUMBERS, ids=lambda o: o.name)
def test_validated_follows_the_declared_range(option):
    mode = "fine_tuning" if "fine_tuning" in option.modes else option.modes[0]
    base = {"warmup_epochs": dict(epochs=2000), "val_fraction": dict(test_fraction=0.0),
            "test_fraction": dict(val_fraction=1e-7)}.get(option.name, {})
    ends = ["low"] + ([] if math.isinf(option.range.high) else ["high"])
    for end in ends:
        inside = _next_to(option, end, inside=True)
        config = TrainConfig.for_mode("d", mode, **base, **{option.name: inside})
        assert getattr(config, option.name) == inside
        with pytest.raises(ConfigError, match=f"'{option.name}'.*{option.range.describe()}"):
            TrainConfig.for_mode("d", mode, **base,
                                 **{option.name: _next_to(option, end, inside=False)})


def test_compare_modes_shares_what_is_declared_shared():
    from transfer_gui.ui.compare.compare_modes import SHARED_OPTIONS as used

    assert used == SHARED_OPTIONS
    assert {"seed", "split_seed", "device", "class_weights"} <= set(used)
    assert not {"learning_rate", "epochs", "augmentation"} & set(used)
    assert set(used) <= {f.name for f in dataclasses.fields(TrainConfig)}


def test_declarations_are_complete():
    for option in OPTIONS:
        assert option.help and option.kind in ("int", "float", "choice", "flag", "folder")
        assert set(option.modes) <= set(MODES) and option.modes
        assert bool(option.label) != bool(option.cli_only), option.name  # a row, or a reason
        if option.label:
            assert option.tooltip.endswith((".", ")")), option.name
        if option.kind in ("int", "float"):
            assert option.range is not None, option.name
    assert OPTION_BY_NAME["learning_rate"].flag == "--lr"


@pytest.fixture
def settings_page(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from transfer_gui.ui.settings.settings_page import SettingsPage
    from transfer_gui.ui.state import AppState

    state = AppState()
    state.data_dir = str(tmp_path)
    page = SettingsPage(state)
    qtbot.addWidget(page)
    return page


def test_settings_rows_follow_the_declarations(settings_page):
    from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox

    page = settings_page
    assert set(page.controls) == {o.name for o in OPTIONS if not o.cli_only}
    for option in OPTIONS:
        if option.cli_only:
            continue
        control = page.controls[option.name]
        if option.range is not None and isinstance(control, QAbstractSpinBox):
            low, high = option.spin_range()
            # the box offers exactly what validated() accepts (an open end: just inside it)
            r = option.range
            assert low == r.low if not r.low_open else r.low < low <= r.low + 1e-3
            assert high == r.high if not r.high_open else r.high - 0.1 <= high < r.high
            minimum = control.minimum() + (1 if option.unset else 0)
            assert (minimum, control.maximum()) == pytest.approx((low, high)), option.name
        elif isinstance(control, QComboBox) and option.widget != "probe_l2":
            values = [control.itemData(i) for i in range(control.count())]
            assert set(values) <= set(option.choices) and values, option.name
            if option.widget == "combo":
                assert tuple(values) == option.choices
        else:
            assert isinstance(control, (QCheckBox, QComboBox)), option.name
        assert control.toolTip(), option.name
        label = page.form_of[control].labelForField(control)
        assert (label.text() if label is not None and label.text() else
                getattr(control, "text", lambda: "")()) == option.label


@pytest.mark.parametrize("mode", MODES)
def test_settings_rows_show_in_the_declared_modes(settings_page, mode):
    page = settings_page
    page.state.set_mode(mode)
    for name, control in page.controls.items():
        if name == "mixed_precision":
            continue  # shown only where CUDA is (test_ui_settings_rows.py)
        shown = page.form_of[control].isRowVisible(control)
        assert shown == (mode in OPTION_BY_NAME[name].modes), (name, mode)


def test_settings_accepts_the_whole_declared_range(settings_page):
    page = settings_page
    page.state.set_mode("fine_tuning")
    page.learning_rate.setValue(10.0)  # was capped at 1.0 while the CLI allowed 10
    page.seed.setValue(2**32 - 1)  # beyond a QSpinBox's 2**31 - 1
    page.epochs.setValue(10_000)
    config = page.state.config()
    assert (config.learning_rate, config.seed, config.epochs) == (10.0, 2**32 - 1, 10_000)
    assert isinstance(config.seed, int)
