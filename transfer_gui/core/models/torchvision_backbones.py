"""Registry entries for torchvision backbones (default ImageNet weights, downloaded on demand).

Each architecture family needs three small adapters: remove the ImageNet classifier, name the
Grad-CAM layer, and cut the network into stages. Everything else comes from torchvision's
published weight metadata.
"""

from __future__ import annotations

from typing import Callable

import torchvision.models as tvm
from torch import nn

from .spec import BackboneSpec, Preprocessing


def _resnet_strip(net: nn.Module) -> nn.Module:
    net.fc = nn.Identity()
    return net


def _resnet_stages(net: nn.Module) -> list[nn.Module]:
    stem = nn.ModuleList([net.conv1, net.bn1])
    return [stem, net.layer1, net.layer2, net.layer3, net.layer4]


def _classifier_strip(keep: int) -> Callable[[nn.Module], nn.Module]:
    """Keep the first `keep` layers of `net.classifier` (the rest is the ImageNet head)."""

    def strip(net: nn.Module) -> nn.Module:
        net.classifier = nn.Sequential(*list(net.classifier)[:keep]) if keep else nn.Identity()
        return net

    return strip


def _features_stages(net: nn.Module) -> list[nn.Module]:
    return list(net.features)


def _vit_strip(net: nn.Module) -> nn.Module:
    net.heads = nn.Identity()
    return net


def _vit_stages(net: nn.Module) -> list[nn.Module]:
    embed = nn.ModuleList([net.conv_proj])  # class token / position embedding stay with it below
    layers = list(net.encoder.layers)
    return [embed, *layers[:-1], nn.ModuleList([layers[-1], net.encoder.ln])]


def _vgg_stages(net: nn.Module) -> list[nn.Module]:
    """The five convolution blocks (each ends with its max-pooling), then the kept fc6/fc7."""
    blocks, current = [], []
    for layer in net.features:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append(nn.ModuleList(current))
            current = []
    return [*blocks, net.classifier]


def _inception_strip(net: nn.Module) -> nn.Module:
    """No ImageNet head and no auxiliary classifier (training would return two outputs)."""
    net.fc = nn.Identity()
    net.AuxLogits, net.aux_logits = None, False
    return net


def _inception_stages(net: nn.Module) -> list[nn.Module]:
    stem = nn.ModuleList([net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3,
                          net.Conv2d_3b_1x1, net.Conv2d_4a_3x3])
    return [stem, *(getattr(net, f"Mixed_{n}") for n in
                    ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"))]


# Built as the published weights expect: Inception-v3's were ported from TensorFlow and take
# inputs rescaled to [-1, 1] (transform_input), and they hold the auxiliary classifier.
_BUILD_OPTIONS = {"inception_v3": {"aux_logits": True, "transform_input": True,
                                   "init_weights": False}}

# name -> (display name, feature dim, strip head, stages, Grad-CAM layer)
_ADAPTERS: dict[str, tuple] = {
    "resnet18": ("ResNet-18", 512, _resnet_strip, _resnet_stages, "layer4.1"),
    "resnet50": ("ResNet-50", 2048, _resnet_strip, _resnet_stages, "layer4.2"),
    "mobilenet_v2": ("MobileNetV2", 1280, _classifier_strip(0), _features_stages, "features.18"),
    # Keep Linear(960, 1280) + Hardswish: pretrained, and the paper's feature vector.
    "mobilenet_v3_large": ("MobileNetV3-Large", 1280, _classifier_strip(2), _features_stages,
                           "features.16"),
    "efficientnet_b0": ("EfficientNet-B0", 1280, _classifier_strip(0), _features_stages,
                        "features.8"),
    # Keep LayerNorm2d + Flatten: the pooled features are normalised before the head.
    "convnext_tiny": ("ConvNeXt-Tiny", 768, _classifier_strip(2), _features_stages, "features.7"),
    "vit_b_16": ("ViT-B/16", 768, _vit_strip, _vit_stages, "encoder.layers.encoder_layer_11.ln_1"),
    # The source material's VGG: keep fc6 + ReLU + Dropout + fc7 + ReLU, its 4096 features.
    # (The batch-norm variants could not be measured here: no weights offline.)
    "vgg16": ("VGG-16", 4096, _classifier_strip(5), _vgg_stages, "features.29"),
    "vgg19": ("VGG-19", 4096, _classifier_strip(5), _vgg_stages, "features.35"),
    "inception_v3": ("Inception-v3", 2048, _inception_strip, _inception_stages, "Mixed_7c"),
}


def torchvision_specs() -> list[BackboneSpec]:
    specs = []
    for name, (display, dim, strip, stages, cam_layer) in _ADAPTERS.items():
        weights = tvm.get_model_weights(name).DEFAULT
        transforms = weights.transforms()
        specs.append(BackboneSpec(
            name=name,
            display_name=display,
            family="torchvision",
            num_params=int(weights.meta["num_params"]),
            gflops=float(weights.meta.get("_ops", 0.0)),
            imagenet_top1=float(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]),
            preprocessing=Preprocessing(
                input_size=int(transforms.crop_size[0]),
                resize_size=int(transforms.resize_size[0]),
                mean=tuple(transforms.mean),
                std=tuple(transforms.std),
            ),
            feature_dim=dim,
            cam_layer=cam_layer,
            build_network=lambda name=name: tvm.get_model(name, weights=None,
                                                          **_BUILD_OPTIONS.get(name, {})),
            strip_head=strip,
            stages=stages,
            weights_url=weights.url,
            download_mb=float(weights.meta.get("_file_size", 0.0)),
        ))
    return specs
