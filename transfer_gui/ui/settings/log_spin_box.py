"""A number box whose arrows multiply and divide (learning rates span several powers of ten)."""

from __future__ import annotations

import math
from typing import Optional

from PySide6.QtWidgets import QDoubleSpinBox, QWidget

# Rounded preferred numbers (Renard R10): ten steps per power of ten, each about x1.26.
STEPS_PER_DECADE = (1.0, 1.25, 1.6, 2.0, 2.5, 3.2, 4.0, 5.0, 6.3, 8.0)


def log_step(value: float, steps: int) -> float:
    """`value` moved `steps` places along 1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8, 10, 12.5, ...
    A value between two of them moves to the next one in the direction of the step."""
    n = len(STEPS_PER_DECADE)
    decade = math.floor(math.log10(value) + 1e-9)
    mantissa = value / 10.0 ** decade
    # the grid place at or just below `value`, and whether `value` is on it
    index = max(i for i, m in enumerate(STEPS_PER_DECADE) if m <= mantissa * (1 + 1e-9))
    on_grid = abs(STEPS_PER_DECADE[index] - mantissa) <= 1e-9 * mantissa
    position = decade * n + index + steps + (1 if steps < 0 and not on_grid else 0)
    decade, index = divmod(position, n)
    return float(f"{STEPS_PER_DECADE[index] * 10.0 ** decade:.6g}")


def plain_number(value: float, significant: int = 3) -> str:
    """0.00125, not 1.25e-03 or 0.001250."""
    if value == 0:
        return "0"
    decimals = max(significant - 1 - math.floor(math.log10(abs(value))), 0)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class LogSpinBox(QDoubleSpinBox):
    """A positive decimal box: each arrow click or Up/Down key multiplies or divides the value by
    about 1.25 (through round numbers: 0.001, 0.00125, 0.0016, 0.002, ...), and the value reads
    as a plain decimal without trailing zeros."""

    def __init__(self, low: float, high: float, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setDecimals(max(3 - math.floor(math.log10(low)), 2))  # keeps 3 digits of `low`
        self.setRange(low, high)

    def stepBy(self, steps: int) -> None:
        if steps == 0:
            return
        value = self.value()
        self.setValue(min(max(log_step(value, steps), self.minimum()), self.maximum())
                      if value > 0 else self.minimum())
        self.selectAll()

    def textFromValue(self, value: float) -> str:
        return plain_number(value)

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()
