"""Backbone registry, pretrained weights, and the transfer model (backbone + new head)."""

from .network import TransferModel, keep_frozen_in_eval, make_model, set_trainable_stages
from .registry import (BUNDLED, CACHED, DEFAULT_BACKBONE, DOWNLOAD_NEEDED, all_backbones,
                       availability, backbone_names, build_network, get_backbone, import_weights,
                       pretrained_weights_file, register_backbone, unregister_backbone)
from .spec import BackboneSpec, Preprocessing

__all__ = [
    "BUNDLED", "CACHED", "DEFAULT_BACKBONE", "DOWNLOAD_NEEDED", "BackboneSpec", "Preprocessing",
    "TransferModel", "all_backbones", "availability", "backbone_names", "build_network",
    "get_backbone", "import_weights", "keep_frozen_in_eval", "make_model", "pretrained_weights_file",
    "register_backbone", "set_trainable_stages", "unregister_backbone",
]
