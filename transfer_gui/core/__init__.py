"""Qt-free core: data, backbones, training, evaluation. Never imports PySide6 or pyqtgraph."""
