"""The CAM methods: each turns a layer's activations (and gradients) into a raw map.

As in pytorch-grad-cam, a method overrides one function: `weights` (one weight per channel, the
map is the weighted sum of the activation channels) or `cam` (the whole map). Inputs are
(B, C, h, w) tensors; outputs (B, C) weights or (B, h, w) maps, before any ReLU or scaling.
"""

from __future__ import annotations

import torch

_SPATIAL = (2, 3)


class CamMethod:
    """Base class. `uses_gradients` False means only the forward pass is needed."""

    name = ""  # the registry key (the CLI's --method)
    title = ""  # the name people read
    uses_gradients = True
    class_specific = True

    def weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """(B, C) channel weights; methods that weight channels override only this."""
        raise NotImplementedError

    def cam(self, activations: torch.Tensor, gradients: torch.Tensor | None) -> torch.Tensor:
        """(B, h, w) raw map: the channels of `activations` summed with `weights`."""
        w = self.weights(activations, gradients)
        return (w[:, :, None, None] * activations).sum(dim=1)


class GradCAM(CamMethod):
    """Grad-CAM (Selvaraju et al. 2017): channel weight = spatial mean of the gradient."""

    name = "gradcam"
    title = "Grad-CAM"

    def weights(self, activations, gradients):
        return gradients.mean(dim=_SPATIAL)


class HiResCAM(CamMethod):
    """HiResCAM (Draelos & Carin 2020): gradient x activation, summed over channels."""

    name = "hirescam"
    title = "HiResCAM"

    def cam(self, activations, gradients):
        return (gradients * activations).sum(dim=1)


class GradCAMPlusPlus(CamMethod):
    """Grad-CAM++ (Chattopadhay et al. 2018), eq. 19 with the exp-score gradient identities."""

    name = "gradcam++"
    title = "Grad-CAM++"
    eps = 1e-6

    def weights(self, activations, gradients):
        g2 = gradients ** 2
        g3 = g2 * gradients
        sum_acts = activations.sum(dim=_SPATIAL)[:, :, None, None]
        aij = g2 / (2 * g2 + sum_acts * g3 + self.eps)
        aij = torch.where(gradients != 0, aij, torch.zeros_like(aij))
        return (torch.relu(gradients) * aij).sum(dim=_SPATIAL)


class XGradCAM(CamMethod):
    """XGrad-CAM (Fu et al. 2020): activation-weighted sum of the gradient per channel."""

    name = "xgradcam"
    title = "XGrad-CAM"
    eps = 1e-7

    def weights(self, activations, gradients):
        sum_acts = activations.sum(dim=_SPATIAL)[:, :, None, None]
        return (gradients * activations / (sum_acts + self.eps)).sum(dim=_SPATIAL)


class LayerCAM(CamMethod):
    """LayerCAM (Jiang et al. 2021): positive gradient x activation, summed over channels."""

    name = "layercam"
    title = "LayerCAM"

    def cam(self, activations, gradients):
        return (torch.relu(gradients) * activations).sum(dim=1)


class EigenCAM(CamMethod):
    """EigenCAM (Muhammad & Yeasin 2020): the activations' first principal component.

    As pytorch-grad-cam's `get_2d_projection`: per image, the (h*w, C) activation matrix X is
    centred per channel and projected on its first right singular vector. That projection is
    computed from the smaller of the two Gram matrices (X X^T or X^T X) with `eigh`, which is
    much cheaper than an SVD of X. Its sign is arbitrary, so the projection is flipped to
    correlate positively with the channel-mean activation: strongly activated regions (the
    object) come out positive. Not class-specific.
    """

    name = "eigencam"
    title = "EigenCAM"
    uses_gradients = False
    class_specific = False

    def cam(self, activations, gradients=None):
        acts = torch.nan_to_num(activations.double())
        b, c, h, w = acts.shape
        x = acts.reshape(b, c, h * w).transpose(1, 2)  # (B, hw, C)
        x = x - x.mean(dim=1, keepdim=True)
        if h * w <= c:  # X v1 = s1 u1: the top eigenvector of X X^T, scaled
            values, vectors = torch.linalg.eigh(x @ x.transpose(1, 2))
            projection = vectors[:, :, -1] * values[:, -1:].clamp_min(0).sqrt()
        else:  # v1 is the top eigenvector of X^T X
            _, vectors = torch.linalg.eigh(x.transpose(1, 2) @ x)
            projection = (x @ vectors[:, :, -1:]).squeeze(-1)  # (B, hw)
        mean_act = acts.mean(dim=1).reshape(b, h * w)
        corr = (projection * (mean_act - mean_act.mean(dim=1, keepdim=True))).sum(dim=1)
        sign = torch.where(corr < 0, -1.0, 1.0).to(projection.dtype)
        return (projection * sign[:, None]).reshape(b, h, w).to(activations.dtype)


METHODS: dict[str, type[CamMethod]] = {
    cls.name: cls for cls in (GradCAM, HiResCAM, GradCAMPlusPlus, XGradCAM, LayerCAM, EigenCAM)
}
"""Method name -> class; the CLI's `--method` choices."""

METHOD_NAMES: dict[str, str] = {name: cls.title for name, cls in METHODS.items()}
"""Method name -> what people read ("Grad-CAM"; the GUI translates it in ui/names.py)."""

CLASS_SPECIFIC: dict[str, bool] = {name: cls.class_specific for name, cls in METHODS.items()}
"""False for methods whose map does not depend on the target class (the UI says so)."""

DEFAULT_METHOD = "gradcam"


def get_method(name: str) -> CamMethod:
    """An instance of the method called `name`; a ValueError listing the valid names otherwise."""
    try:
        return METHODS[name]()
    except KeyError:
        raise ValueError(f"Unknown CAM method {name!r}. Choose one of: "
                         f"{', '.join(METHODS)}.") from None
