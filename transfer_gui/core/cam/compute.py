"""`compute_cam`: class activation maps for a batch of network inputs."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .hooks import ActivationsAndGradients
from .methods import get_method

Reshape = Callable[[torch.Tensor], torch.Tensor]

_NO_EVIDENCE = 1e-6  # a positive peak below this fraction of the map's largest |value| is noise
_LISTED_LAYERS = 40


@dataclass
class CamResult:
    """The maps of one batch.

    Attributes:
        maps: (B, H, W) float32 in [0, 1] at the input's resolution: ReLU of the raw map,
            bilinearly upsampled, divided by its own maximum (an all-zero map stays zero).
        raw: (B, h, w) float32 raw map at the layer's resolution (no ReLU, no scaling).
        targets: The class each map explains.
        target_logits: (B,) the network's logit for the target class.
        target_probabilities: (B,) its softmax probability.
        predicted: The predicted (arg-max) class of each image.
        no_positive_evidence: True where the map has no positive value (nothing to show).
        probabilities: (B, num_classes) softmax of the logits.
    """

    maps: np.ndarray
    raw: np.ndarray
    targets: list[int]
    target_logits: np.ndarray
    target_probabilities: np.ndarray
    predicted: list[int]
    no_positive_evidence: list[bool]
    probabilities: Optional[np.ndarray] = None


def module_path(model: nn.Module, layer: nn.Module) -> str:
    """The dotted path of `layer` inside `model` (by identity); ValueError if it is not there."""
    for name, module in model.named_modules():
        if module is layer:
            return name
    raise ValueError(f"The CAM layer {type(layer).__name__} is not a submodule of the model.")


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """(path, module) for a dotted path (via `get_submodule`, never eval) or a module."""
    if isinstance(layer, nn.Module):
        return module_path(model, layer), layer
    try:
        if not layer:
            raise AttributeError(layer)
        return layer, model.get_submodule(layer)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        shown = ", ".join(names[-_LISTED_LAYERS:])
        more = (f" (the last {_LISTED_LAYERS} of {len(names)})"
                if len(names) > _LISTED_LAYERS else "")
        raise ValueError(f"Unknown CAM layer {layer!r}. Valid layers{more}: {shown}.") from None


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode; afterwards restore every submodule's own train/eval flag."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield model.eval()
    finally:
        for module, training in modes:
            module.training = training


def _check_targets(targets: Optional[Sequence[int]], logits: torch.Tensor) -> list[int]:
    batch, classes = logits.shape
    if targets is None:
        return [int(i) for i in logits.argmax(dim=1).tolist()]
    out = []
    for t in targets:
        if isinstance(t, bool) or int(t) != t or not 0 <= int(t) < classes:
            raise ValueError(f"Target class {t!r} is out of range: the model has {classes} "
                             f"classes (0 to {classes - 1}).")
        out.append(int(t))
    return out


def _as_4d(tensor: torch.Tensor, reshape: Optional[Reshape], path: str) -> torch.Tensor:
    out = reshape(tensor) if reshape is not None else tensor
    if out.ndim != 4:
        raise ValueError(f"The CAM layer {path!r} outputs a {tuple(out.shape)} tensor, not "
                         f"(batch, channels, height, width); pass a reshape function (for a "
                         f"vision transformer: vit_reshape(grid)) or choose another layer.")
    return out


def scale_maps(raw: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, list[bool]]:
    """ReLU, bilinear upsampling to `size` and per-image division by the maximum."""
    raw = torch.nan_to_num(raw.float())
    peak_abs = raw.abs().amax(dim=(1, 2))
    positive = torch.relu(raw)
    empty = positive.amax(dim=(1, 2)) <= _NO_EVIDENCE * peak_abs
    up = F.interpolate(positive[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    peak = up.amax(dim=(1, 2))
    scale = torch.where(empty | (peak <= 0), torch.zeros_like(peak), 1.0 / peak.clamp_min(1e-30))
    return (up * scale[:, None, None]).clamp_(0.0, 1.0), [bool(e) for e in empty.tolist()]


def compute_cam(model: nn.Module, inputs: torch.Tensor, *, layer: str | nn.Module,
                method: str = "gradcam", targets: Sequence[int] | None = None,
                reshape: Reshape | None = None) -> CamResult:
    """Class activation maps of `inputs` for `targets` at `layer`.

    Works whatever the model's mode and its parameters' `requires_grad`, also inside
    `torch.no_grad()`. The model runs in eval mode (so each image's map does not depend on the
    rest of the batch); every submodule's mode, the parameters' `.grad` and the hooks are left
    as they were, also when an error is raised.

    Args:
        model: A classifier returning (B, num_classes) logits.
        inputs: (B, 3, H, W) network inputs (already normalised).
        layer: Dotted submodule path (e.g. "backbone.layer4.1") or the module itself.
        method: A key of METHODS.
        targets: One class index per image; None explains each image's predicted class.
        reshape: Turns the layer's output into (B, C, h, w), e.g. `vit_reshape(14)`.

    Raises:
        ValueError: Unknown method or layer, a targets list of the wrong length, a class index
            out of range, or a layer whose output is not a feature map.
    """
    cam_method = get_method(method)
    path, module = resolve_layer(model, layer)
    if inputs.ndim != 4:
        raise ValueError(f"inputs must be (batch, channels, height, width), not "
                         f"{tuple(inputs.shape)}")
    if targets is not None and len(targets) != inputs.shape[0]:
        raise ValueError(f"Got {len(targets)} targets for {inputs.shape[0]} images; give one "
                         f"class index per image (or None for the predicted classes).")
    grads_needed = cam_method.uses_gradients
    with eval_mode(model), torch.inference_mode(False), torch.set_grad_enabled(grads_needed), \
            ActivationsAndGradients(module, keep_graph=grads_needed) as hooks:
        x = inputs.detach().clone().requires_grad_(grads_needed)
        logits = model(x)
        if logits.ndim != 2 or logits.shape[0] != inputs.shape[0]:
            raise ValueError(f"The model must return (batch, classes) logits, not "
                             f"{tuple(logits.shape)}.")
        if hooks.calls != 1:
            raise ValueError(f"The CAM layer {path!r} ran {hooks.calls} times in one forward "
                             f"pass; choose a layer that runs exactly once.")
        chosen = _check_targets(targets, logits.detach())
        index = torch.tensor(chosen, device=logits.device)
        activations = _as_4d(hooks.activations, reshape, path).float()
        gradients = None
        if grads_needed:
            score = logits.gather(1, index[:, None]).sum()
            gradients = _as_4d(hooks.gradients_of(score), reshape, path).float()
        with torch.no_grad():
            raw = cam_method.cam(activations, gradients)
            maps, empty = scale_maps(raw, (inputs.shape[-2], inputs.shape[-1]))
            logits = logits.detach().float()
            probs = torch.softmax(logits, dim=1)
    rows = torch.arange(len(chosen), device=logits.device)
    return CamResult(
        maps=maps.cpu().numpy().astype(np.float32),
        raw=raw.float().cpu().numpy(),
        targets=chosen,
        target_logits=logits[rows, index].cpu().numpy(),
        target_probabilities=probs[rows, index].cpu().numpy(),
        predicted=[int(i) for i in logits.argmax(dim=1).tolist()],
        no_positive_evidence=empty,
        probabilities=probs.cpu().numpy(),
    )
