"""The ensemble as one nn.Module: every member sees the same input and the probabilities average.

One preprocessing for the whole ensemble, so the app, TorchScript and ONNX compute the same thing:
the ensemble takes the input of its member with the largest input size (for Lite0 + Lite2:
Lite2's, shorter side to 297, centre 260 x 260, Lite2's mean and std). Each member then, inside
the module, resizes that input bilinearly to its own input size (Lite0: 260 -> 224; the crop
keeps the same 87.5% of the picture, so the field of view matches the member's own
preprocessing) and re-normalises it to its own mean and std. A member therefore sees a picture
resampled twice, not once as in its own preprocessing: its features differ slightly from its
cached ones (bench/ensemble.py measures what that does to accuracy).

Like a TransferModel, an EnsembleModel is `head(backbone(x))`: `backbone` outputs the members'
features side by side (what the feature cache and the "unlike the training data" detector
see), `head` splits them, applies each member's head and softmax, averages, and returns the
log of the average. Softmax of that output gives the averaged probabilities back exactly, so
every reader that applies softmax to a model's output (predict, evaluate, the export check)
works unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..models.spec import Preprocessing

LOG_FLOOR = 1e-30  # keeps log(average) finite when every member gives a class exactly 0


def ensemble_preprocessing(members: Sequence[Preprocessing]) -> Preprocessing:
    """The ensemble's input: its largest-input member's preprocessing (first of equal ones)."""
    return max(members, key=lambda p: p.input_size)


class MemberInput(nn.Module):
    """The ensemble's normalised input -> one member's: bilinear resize, then re-normalisation."""

    def __init__(self, source: Preprocessing, target: Preprocessing) -> None:
        super().__init__()
        self.size = target.input_size
        self.resize = source.input_size != target.input_size
        source_std, target_std = torch.tensor(source.std), torch.tensor(target.std)
        scale = source_std / target_std
        shift = (torch.tensor(source.mean) - torch.tensor(target.mean)) / target_std
        self.renormalise = bool((scale != 1).any() or (shift != 0).any())
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                              align_corners=False)
        if self.renormalise:  # (x s_src + m_src - m_dst) / s_dst
            x = x * self.scale + self.shift
        return x


class EnsembleBackbone(nn.Module):
    """(B, 3, S, S) -> (B, sum of the members' feature dims): each member's features in turn."""

    def __init__(self, backbones: Sequence[nn.Module], inputs: Sequence[MemberInput]) -> None:
        super().__init__()
        self.members = nn.ModuleList(backbones)
        self.inputs = nn.ModuleList(inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([backbone(adapt(x)) for backbone, adapt
                          in zip(self.members, self.inputs)], dim=1)


class EnsembleHead(nn.Module):
    """Members' features side by side -> log of the mean of the members' probabilities."""

    def __init__(self, heads: Sequence[nn.Module], dims: Sequence[int]) -> None:
        super().__init__()
        self.members = nn.ModuleList(heads)
        self.dims = [int(d) for d in dims]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        parts = torch.split(features, self.dims, dim=1)
        probabilities = [torch.softmax(head(part).float(), dim=1)
                         for head, part in zip(self.members, parts)]
        mean = torch.stack(probabilities).mean(dim=0)
        return torch.log(mean.clamp_min(LOG_FLOOR))


class EnsembleModel(nn.Module):
    """`head(backbone(x))` over the members (module docstring)."""

    def __init__(self, members: Sequence[nn.Module], preprocessings: Sequence[Preprocessing],
                 dims: Sequence[int]) -> None:
        """Args: members: TransferModels (each `.backbone` and `.head`); preprocessings: each
        member's own; dims: each member's feature length."""
        super().__init__()
        own = ensemble_preprocessing(preprocessings)
        self.preprocessing = own
        self.backbone = EnsembleBackbone([m.backbone for m in members],
                                         [MemberInput(own, p) for p in preprocessings])
        self.head = EnsembleHead([m.head for m in members], dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))
