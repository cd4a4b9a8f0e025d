"""Ensembles of backbones' linear probes: average the class probabilities of 2-3 feature-extraction
models, chosen by greedy forward selection on out-of-fold log-loss, kept only where they win.

- selection.py: the log-loss, the greedy selection and the keep-or-not decision (numpy only)
- model.py: the nn.Module that runs every member and averages (what the app, TorchScript and
  ONNX all run)
- ensemble_file.py: the weights-only model.pt of an ensemble, and reading it back
- build.py: from a dataset folder to a run folder (`transfer-gui ensemble`)
"""

from .selection import Selection, SelectionStep, greedy_selection, log_loss

__all__ = ["Selection", "SelectionStep", "greedy_selection", "log_loss"]
