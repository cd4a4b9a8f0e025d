"""The names people read for the transfer modes and the CAM methods, translated.

The English names live next to their registries (core/training/config.py `MODE_NAMES`,
core/cam/methods.py `METHOD_NAMES`); this is the one place the GUI wraps them for translation.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QCoreApplication

from transfer_gui.core.training.config import MODE_NAMES

CONTEXT = "names"  # the translation context of these names


def mode_name(mode: Optional[str], unknown: str = "–") -> str:
    """"Fine-tuning" for "fine_tuning"; an unknown mode as it is, `unknown` for none."""
    if not mode:
        return unknown
    return QCoreApplication.translate(CONTEXT, MODE_NAMES[mode]) if mode in MODE_NAMES else mode


def cam_method_name(method: str) -> str:
    """"Grad-CAM" for "gradcam"; an unknown method as it is."""
    from transfer_gui.core.cam.methods import METHOD_NAMES  # imports torch: only when asked

    title = METHOD_NAMES.get(method)
    return QCoreApplication.translate(CONTEXT, title) if title else method
