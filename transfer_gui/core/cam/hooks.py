"""Capture one layer's activations during the forward pass, as pytorch-grad-cam's
`activations_and_gradients.py` does: the hook handle is kept and `release()` removes it."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class ActivationsAndGradients:
    """A forward hook on `layer` that keeps its output for a later `torch.autograd.grad`.

    The hook records the layer's output tensor (still attached to the graph, so gradients can be
    taken with respect to it) and hands the rest of the network a clone, so that an in-place
    operation after the layer (`ReLU(inplace=True)`, `out += x`) cannot change the recorded
    values or their gradient. Use it as a context manager: the hook is removed on exit, also when
    an error is raised, and the error is never swallowed.

    Attributes:
        output: The layer's output from the last forward pass (attached), or None.
        activations: `output` detached, or None.
        gradients: Set by the caller after `gradients_of(score)`; detached.
    """

    def __init__(self, layer: nn.Module, *, keep_graph: bool = True) -> None:
        self.layer = layer
        self.keep_graph = keep_graph
        self.output: Optional[torch.Tensor] = None
        self.activations: Optional[torch.Tensor] = None
        self.gradients: Optional[torch.Tensor] = None
        self.calls = 0
        self.handles = [layer.register_forward_hook(self._save_output)]

    def _save_output(self, module: nn.Module, inputs: tuple,
                     output: object) -> Optional[torch.Tensor]:
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"The CAM layer {type(module).__name__} does not output a single "
                             f"tensor ({type(output).__name__}); choose another layer.")
        self.calls += 1
        self.activations = output.detach()
        if not (self.keep_graph and output.requires_grad):
            return None
        self.output = output
        return output.clone()  # downstream in-place ops change the clone, not what we recorded

    def gradients_of(self, score: torch.Tensor) -> torch.Tensor:
        """d score / d (layer output), detached; the model's parameters' `.grad` are untouched."""
        if self.output is None:
            raise ValueError("The CAM layer's output does not depend on anything that needs a "
                             "gradient, so no gradient can reach it.")
        (grad,) = torch.autograd.grad(score, self.output, allow_unused=True)
        self.gradients = torch.zeros_like(self.activations) if grad is None else grad.detach()
        return self.gradients

    def clear(self) -> None:
        """Drop the recorded tensors (and with them the autograd graph)."""
        self.output = self.activations = self.gradients = None

    def release(self) -> None:
        """Remove the hook and drop the recorded tensors."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.clear()

    def __enter__(self) -> "ActivationsAndGradients":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()  # returns None: an exception inside the block propagates
