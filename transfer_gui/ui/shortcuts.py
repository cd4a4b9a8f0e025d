"""Keyboard shortcuts shared by the app's secondary windows."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget


def add_close_shortcuts(window: QWidget, close: Optional[Callable[[], object]] = None,
                        escape: bool = True) -> None:
    """Ctrl+W (Cmd+W on macOS) and, with `escape`, Esc close `window` (by `close`, default
    `window.close`). Dialogs already close on Esc: give them `escape=False`."""
    keys = [QKeySequence(QKeySequence.StandardKey.Close), QKeySequence("Ctrl+W")]
    if escape:
        keys.append(QKeySequence(Qt.Key.Key_Escape))
    seen: set[str] = set()
    for key in keys:
        if key.isEmpty() or key.toString() in seen:
            continue
        seen.add(key.toString())
        QShortcut(key, window, activated=close or window.close,
                  context=Qt.ShortcutContext.WindowShortcut)
