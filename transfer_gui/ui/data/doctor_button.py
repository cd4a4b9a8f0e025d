"""The Data page's "Check data…" button: it opens the data doctor's dialog (doctor_dialog.py)
and keeps it, so the last findings of the open dataset show again without a new check."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QPushButton, QWidget

from transfer_gui.ui.state import AppState

from .doctor_dialog import DoctorDialog


class DoctorButton(QPushButton):
    """"Check data…" (Alt+K, and Ctrl+Shift+D on the page): enabled once a scan is shown;
    opens the dialog and starts the check, or shows the last findings of this dataset."""

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(self.tr("Chec&k data…"), parent)
        self.state = state
        self.dialog: Optional[DoctorDialog] = None
        self.setToolTip(self.tr(
            "Look for copies and leaks between training and validation/test, odd pictures, "
            "likely label errors and thin classes (Ctrl+Shift+D)"))
        self.clicked.connect(self.open_check)
        state.datasetChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.setEnabled(self.state.scanned is not None)
        if self.dialog is not None and self.state.doctor_report is None \
                and not self.dialog.is_running():  # another dataset: its findings are gone
            self.dialog.clear()
            self.dialog.report = None

    def open_check(self) -> Optional[DoctorDialog]:
        if self.state.scanned is None:
            return None
        if self.dialog is None:
            self.dialog = DoctorDialog(self.state, self.window())
        dialog = self.dialog
        same = (dialog.report is not None and self.state.doctor_report is dialog.report)
        if not same and not dialog.is_running():
            dialog.start()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def shutdown(self) -> None:
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.close()
