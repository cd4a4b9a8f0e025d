"""The desktop app: PySide6 + pyqtgraph views over the Qt-free core (built in the GUI issue)."""
