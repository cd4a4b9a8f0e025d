"""Error messages for people, not programmers: raw OS error codes ("[Errno -2] Name or service
not known") and environment variable names (TRANSFER_GUI_WEIGHTS_BASE_URL) are moved out of the
text a dialog shows and into its Details section, where a helper can still read them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QMessageBox, QWidget

# "(…[Errno -2] Name or service not known…)", with one level of nested brackets.
_ERRNO_GROUP = re.compile(r"\s*\((?:[^()]|\([^()]*\))*?\[Errno\s*-?\d+\](?:[^()]|\([^()]*\))*\)")
_ERRNO = re.compile(r"\[Errno\s*-?\d+\]\s*")
_URLOPEN = re.compile(r"\s*\(?<urlopen error [^>]*>\)?")
_ENV_NAME = re.compile(r"\$?\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
# ", or set NAME to …" up to the end of the clause.
_SET_ENV = re.compile(r",?\s*(?:or\s+)?set\s+\$?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\s+to\s+[^.;]*")
_SENTENCE = re.compile(r"[^.!?]*[.!?]?")


def plain_message(message: str) -> str:
    """`message` without raw error codes and environment variable names."""
    text = _URLOPEN.sub("", message)
    text = _ERRNO_GROUP.sub("", text)
    text = _ERRNO.sub("", text)
    text = _SET_ENV.sub("", text)
    if _ENV_NAME.search(text):  # any other sentence naming a variable goes to the details
        text = "".join(s for s in _SENTENCE.findall(text) if not _ENV_NAME.search(s))
    text = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    return text or message


def show_error(parent: Optional[QWidget], title: str, message: str, details: str = "",
               informative: str = "", icon: QMessageBox.Icon = QMessageBox.Icon.Critical,
               object_name: str = "") -> QMessageBox:
    """Open (window-modal, not blocking) a message box with the plain message; the original
    message, when it had technical parts, and `details` go to its Details section."""
    plain = plain_message(message)
    box = QMessageBox(icon, title, plain, QMessageBox.StandardButton.Ok, parent)
    box.button(QMessageBox.StandardButton.Ok).setText(box.tr("&OK"))
    if informative:
        box.setInformativeText(informative)
    technical = "\n\n".join(part for part in (message if plain != message else "", details)
                            if part)
    if technical:
        box.setDetailedText(technical)
    if object_name:
        box.setObjectName(object_name)
    box.open()
    return box


# A closing "(…: …)" quoted from a library: "(not a readable zip: File is not a zip file)".
_QUOTED_CAUSE = re.compile(r"\s*\((?:[^()]|\([^()]*\))*:(?:[^()]|\([^()]*\))*\)(?=\.?\s*$)")


def user_error_message(exc: BaseException) -> str:
    """The plain sentence of an exception from the core: no error codes or variable names, no
    cause quoted from a library, and a file named by its name alone (its folder is in the
    details)."""
    text = plain_message(str(exc))
    text = _QUOTED_CAUSE.sub("", text).rstrip()
    if text and text[-1] not in ".!?":
        text += "."
    path = getattr(exc, "path", None)
    if path and str(path) in text and Path(path).name:
        text = text.replace(str(path), f"“{Path(path).name}”")
    return text


def show_exception(parent: Optional[QWidget], title: str, exc: BaseException,
                   informative: str = "", icon: QMessageBox.Icon = QMessageBox.Icon.Warning,
                   object_name: str = "") -> QMessageBox:
    """`show_error` for an exception: its plain sentence shown, its full text under Details."""
    box = show_error(parent, title, user_error_message(exc), informative=informative, icon=icon,
                     object_name=object_name)
    box.setDetailedText(str(exc))
    return box
