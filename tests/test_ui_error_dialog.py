"""Error dialogs speak plainly (issue 12.12): raw OS error codes and environment variable names
appear only in the Details section."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QMessageBox

from transfer_gui.core.models.weights import _download_error
from transfer_gui.ui.error_dialog import plain_message, show_error
from transfer_gui.ui.model.model_page import ModelPage
from transfer_gui.ui.state import AppState

RAW = re.compile(r"Errno|urlopen|[A-Z]+_[A-Z_]+")


def offline_message() -> str:
    """What the core says when the weights cannot be downloaded without a network."""
    import socket
    import urllib.error

    error = urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    return str(_download_error(error, "https://example.org/w.pth", "https://example.org/w.pth",
                               None))


def test_plain_message_keeps_the_advice_and_drops_codes_and_variables():
    message = offline_message()
    assert "[Errno -2]" in message and "TRANSFER_GUI_WEIGHTS_BASE_URL" in message  # as raised
    plain = plain_message(message)
    assert not RAW.search(plain), plain
    assert "seems to be offline" in plain and "Import weights file" in plain
    assert plain_message("Could not save: [Errno 28] No space left on device") == \
        "Could not save: No space left on device"
    assert plain_message("class 'dogs' has no usable images") == \
        "class 'dogs' has no usable images"


def test_dialog_shows_the_plain_text_and_keeps_the_rest_in_details(qtbot):
    message = offline_message()
    box = show_error(None, "Weights", message, details="Traceback ...")
    qtbot.addWidget(box)
    assert not RAW.search(box.text())
    assert message in box.detailedText() and "Traceback ..." in box.detailedText()
    assert box.button(QMessageBox.StandardButton.Ok).text() == "&OK"


def test_weights_failure_on_the_model_page_reads_plainly(qtbot):
    page = ModelPage(AppState())
    qtbot.addWidget(page)
    page._on_weights_failed(offline_message(), "")
    dialog = next(w for w in page.findChildren(QMessageBox))
    assert "offline" in dialog.text() and not RAW.search(dialog.text())
    assert "[Errno -2]" in dialog.detailedText()
    page.shutdown()
