"""The Settings page's controls, made from the options' declarations (core/training/options.py):
each control's range, steps, shortcut label, tooltip and choices come from there."""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox,
                               QWidget)

from transfer_gui.core.heads import L2_GRID
from transfer_gui.core.training.options import Option
from .log_spin_box import LogSpinBox

CONTEXT = "options"  # the translation context of the declared labels and tooltips
INT_MAX = 2**31 - 1  # a QSpinBox stops here; larger whole numbers (seeds) use a decimal box
Store = Callable[[str, Any], None]  # (option name, value chosen by the user)
Setter = Callable[[Any], None]  # shows a config value in the control


def translated(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text) if text else text


def make_control(option: Option, store: Store,
                 choices: Optional[list[tuple[str, str]]] = None) -> tuple[QWidget, Setter]:
    """The control for `option` and the function that shows a value in it; `choices`: the
    (value, text) list of a combo when the page knows it better (the detected devices)."""
    if option.widget == "check":
        box = QCheckBox(translated(option.label))
        box.toggled.connect(lambda on: store(option.name, on))
        widget, setter = box, box.setChecked
    elif option.widget in ("combo", "device"):
        widget, setter = _combo(option, store, choices or [
            (value, translated(text)) for value, text in option.choice_labels])
    elif option.widget == "probe_l2":
        widget, setter = _probe_l2(option, store)
    elif option.widget == "log":
        widget, setter = _log(option, store)
    else:
        widget, setter = _number(option, store)
    widget.setToolTip(translated(option.tooltip))
    if not isinstance(widget, QCheckBox):
        widget.setMinimumWidth(220)
    return widget, setter


def _number(option: Option, store: Store) -> tuple[QAbstractSpinBox, Setter]:
    """A whole-number or decimal box over the declared range. An option that may be unset
    shows `unset_text` one step below its lowest number (unfreeze_stages: None is "all stages",
    while 0 is "only the new layer"); `low_text` is shown at the lowest number (stay_close 0)."""
    low, high = option.spin_range()
    whole = option.kind == "int"
    unset = low - 1 if option.unset else None
    if whole and high <= INT_MAX:
        box: QAbstractSpinBox = QSpinBox()
    else:
        box = QDoubleSpinBox()
        box.setDecimals(0 if whole else option.decimals)
        box.setSingleStep(1 if whole else 10 ** -(option.decimals - 1))
    box.setRange(low if unset is None else unset, high)
    special = option.unset_text if option.unset else option.low_text
    if special:
        box.setSpecialValueText(translated(special))
    convert = int if whole else float
    box.valueChanged.connect(lambda v: store(option.name, None if v == unset else convert(v)))

    def show(value: Any) -> None:
        box.setValue(box.minimum() if value is None else convert(value))

    return box, show


def _log(option: Option, store: Store) -> tuple[LogSpinBox, Setter]:
    """A positive decimal box whose arrows step by about x1.25 (see LogSpinBox)."""
    box = LogSpinBox(*option.spin_range())
    box.valueChanged.connect(lambda v: store(option.name, v))
    return box, lambda v: box.setValue(float(v))


def _combo(option: Option, store: Store,
           choices: list[tuple[str, str]]) -> tuple[QComboBox, Setter]:
    box = QComboBox()
    for value, text in choices:
        box.addItem(text, value)
    box.currentIndexChanged.connect(lambda i: store(option.name, box.itemData(i)))
    return box, lambda v: box.setCurrentIndex(max(0, box.findData(v)))


def _probe_l2(option: Option, store: Store) -> tuple[QComboBox, Setter]:
    """head_l2: Automatic (None, chosen by cross-validation) or one of the strengths that
    cross-validation tries; a saved value not among them is added to the list."""
    tr = lambda text: QCoreApplication.translate(CONTEXT, text)  # noqa: E731
    box = QComboBox()
    box.addItem(tr("Automatic (chosen by cross-validation)"), None)
    for i, value in enumerate(L2_GRID):
        hint = (tr(" (strongest)") if i == 0 else
                tr(" (weakest)") if i == len(L2_GRID) - 1 else "")
        box.addItem(f"{value:g}{hint}", value)
    box.currentIndexChanged.connect(lambda i: store(option.name, box.itemData(i)))

    def show(value: Optional[float]) -> None:
        if value is None:
            box.setCurrentIndex(0)
            return
        index = next((i for i in range(1, box.count())
                      if abs(box.itemData(i) - value) <= 1e-9 * value), -1)
        if index < 0:
            box.addItem(f"{value:g}", float(value))
            index = box.count() - 1
        box.setCurrentIndex(index)

    return box, show
