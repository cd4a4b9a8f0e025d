"""Which layer to explain for a backbone, and the token -> feature-map reshape transformers need."""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from .compute import module_path

Reshape = Callable[[torch.Tensor], torch.Tensor]


def vit_reshape(grid: int, prefix: int = 1) -> Reshape:
    """A reshape for vision-transformer tokens: drop the `prefix` tokens before the patches
    (the class token; DINOv2's registers too), (B, prefix+N, C) -> (B, C, g, g).

    A tensor that is already (B, C, h, w) (e.g. the patch embedding's output) passes unchanged,
    so one function serves every layer of the network.

    Args:
        grid: Patches per side, image_size // patch_size (14 for ViT-B/16 at 224).
        prefix: Tokens before the patch tokens.
    """

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim == 4:
            return tokens
        if tokens.ndim != 3 or tokens.shape[1] != prefix + grid * grid:
            raise ValueError(f"Expected (batch, {prefix} + {grid}x{grid} tokens, channels), "
                             f"got {tuple(tokens.shape)}.")
        b, _, c = tokens.shape
        return tokens[:, prefix:, :].reshape(b, grid, grid, c).permute(0, 3, 1, 2)

    reshape.grid = grid  # type: ignore[attr-defined]
    return reshape


def reshape_for(model: nn.Module) -> Optional[Reshape]:
    """`vit_reshape` for models with a vision transformer (a module with `patch_size` and
    `image_size`, as torchvision's VisionTransformer, and `prefix_tokens` where there are more
    than the class token), else None."""
    for module in model.modules():
        patch, size = getattr(module, "patch_size", None), getattr(module, "image_size", None)
        if isinstance(patch, int) and isinstance(size, int) and patch > 0:
            return vit_reshape(size // patch, getattr(module, "prefix_tokens", 1))
    return None


def _spec_and_model(spec_or_loaded, model: Optional[nn.Module]):
    spec = getattr(spec_or_loaded, "spec", spec_or_loaded)  # a LoadedModel carries its spec
    if model is None:
        model = getattr(spec_or_loaded, "model", None)
    if model is None:
        raise ValueError("cam_target_for needs the model (pass it, or pass a LoadedModel).")
    return spec, model


def _prefix(model: nn.Module) -> str:
    return "backbone." if isinstance(getattr(model, "backbone", None), nn.Module) else ""


def cam_target_for(spec_or_loaded, model: Optional[nn.Module] = None,
                   method: Optional[str] = None) -> tuple[str, Optional[Reshape]]:
    """The default CAM layer path in `model` and the reshape it needs.

    Args:
        spec_or_loaded: The backbone's BackboneSpec, or a LoadedModel (spec and model in one).
        model: A TransferModel (layer "backbone." + the spec's layer) or the bare backbone.
        method: The CAM method: its measured best layer (`spec.cam_layer_for(method)`);
            None: `spec.cam_layer`, the latest layer offered.

    Returns:
        (layer path, reshape or None). ViT-B/16's default is `ln_1` of the last encoder block:
        the block's own output reaches the head only through the class token, so its patch
        tokens get zero gradient.
    """
    spec, model = _spec_and_model(spec_or_loaded, model)
    path = _prefix(model) + spec.cam_layer_for(method)
    model.get_submodule(path)  # fails early (AttributeError) on a spec that does not fit
    return path, reshape_for(model)


def candidate_layers(model: nn.Module, spec) -> list[str]:
    """Layer paths for an advanced picker: the default first, then each backbone stage's output
    (the stage itself, or the last module of a stage given as a ModuleList), input side first.

    Stages after the default layer are left out: those registered later, and those containing
    it (for ViT-B/16, the final block and norm, whose patch tokens get no gradient).
    """
    default, _ = cam_target_for(spec, model)
    prefix = _prefix(model)
    backbone = model.get_submodule(prefix[:-1]) if prefix else model
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    paths = [default]
    for stage in spec.stages(backbone):
        if isinstance(stage, nn.ModuleList):  # a group, never called itself: take its last part
            if not len(stage):
                continue
            stage = stage[len(stage) - 1]
        try:
            path = module_path(model, stage)
        except ValueError:
            continue
        contains_default = default.startswith(path + ".")
        if path not in paths and order[path] < order[default] and not contains_default:
            paths.append(path)
    return paths


EARLY, MIDDLE, LATE = "early — finer detail", "middle", "late"


def plain_layer_names(paths: list[str]) -> list[tuple[str, str]]:
    """(path, plain name) for `candidate_layers`' list, deepest first: "late · 10 of 10",
    "middle · 5 of 10", "early — finer detail · 1 of 10" (thirds of the list's depth order).

    Args:
        paths: candidate_layers' output: the deepest layer first, then the rest input side first.
    """
    ordered = list(paths[1:]) + list(paths[:1])  # input side first
    n = len(ordered)
    named = []
    for k, path in enumerate(ordered):
        depth = k / (n - 1) if n > 1 else 1.0
        word = LATE if depth >= 2 / 3 else MIDDLE if depth >= 1 / 3 else EARLY
        named.append((path, f"{word} · {k + 1} of {n}"))
    return named[::-1]
