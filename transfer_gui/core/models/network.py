"""The trainable classifier: a backbone plus a new head, and freezing/unfreezing of its stages."""

from __future__ import annotations

from torch import nn

from .registry import build_network
from .spec import BackboneSpec


class TransferModel(nn.Module):
    """`head(backbone(x))`: the backbone outputs pooled features, the head maps them to classes."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def forward(self, x):
        return self.head(self.backbone(x))


def make_model(spec: BackboneSpec, num_classes: int, *, pretrained: bool,
               dropout: float = 0.2, **download_options) -> TransferModel:
    """A TransferModel for `spec`; pretrained ImageNet backbone or random init ("from scratch")."""
    backbone = build_network(spec, pretrained=pretrained, **download_options)
    return TransferModel(backbone, spec.feature_dim, num_classes, dropout)


def set_trainable_stages(model: TransferModel, spec: BackboneSpec, top_stages: int | None) -> None:
    """Freeze the backbone except its top `top_stages` stages (None: train everything).

    The head always trains. Frozen stages also keep their batch-norm statistics: see
    `keep_frozen_in_eval`.
    """
    stages = spec.stages(model.backbone)
    n_train = len(stages) if top_stages is None else max(0, min(top_stages, len(stages)))
    model.backbone.requires_grad_(n_train == len(stages))
    for stage in stages[len(stages) - n_train:]:
        stage.requires_grad_(True)
    model.head.requires_grad_(True)


def keep_frozen_in_eval(model: nn.Module) -> None:
    """Put modules without trainable parameters in eval mode (after `model.train()`), so frozen
    batch-norm layers keep their pretrained running statistics and dropout stays off there."""
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        if params and not any(p.requires_grad for p in params):
            module.eval()
