"""The backbone registry: every backbone the app offers, and where its pretrained weights come from."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from torch import nn

from ..errors import ConfigError, WeightsError
from ..jobs import CancelToken
from . import weights as weight_files
from .lite_backbones import lite_specs
from .spec import BackboneSpec

DEFAULT_BACKBONE = "efficientnet_lite0"

BUNDLED = "bundled"
CACHED = "cached"
DOWNLOAD_NEEDED = "download needed"

ByteProgress = Callable[[int, Optional[int]], None]


_builtin: dict[str, dict[str, BackboneSpec]] = {}  # family -> its specs, loaded on first need
_registered: dict[str, BackboneSpec] = {}  # added by plugins and tests; wins over a built-in
_removed: set[str] = set()  # built-in names a plugin or test unregistered


def _builtin_family(family: str) -> dict[str, BackboneSpec]:
    if family not in _builtin:
        if family == "efficientnet_lite":
            specs = lite_specs()
        elif family == "dinov2":
            from .dinov2 import dinov2_specs
            specs = dinov2_specs()
        else:  # imported here: torchvision costs ~1.5 s and ~160 MB, and a Lite model never needs it
            from .torchvision_backbones import torchvision_specs
            specs = torchvision_specs()
        _builtin[family] = {spec.name: spec for spec in specs}
    return _builtin[family]


def _registry(*, complete: bool = True) -> dict[str, BackboneSpec]:
    """Every backbone: Lite, then torchvision (left out unless `complete`), then registered ones."""
    families = (["efficientnet_lite", "torchvision", "dinov2"] if complete
                else ["efficientnet_lite"])
    entries = {name: spec for family in families
               for name, spec in _builtin_family(family).items() if name not in _removed}
    entries.update({name: spec for name, spec in _registered.items()})
    return entries


def register_backbone(spec: BackboneSpec) -> None:
    """Add (or replace) a registry entry; plugins and tests use this."""
    _registered[spec.name] = spec
    _removed.discard(spec.name)


def unregister_backbone(name: str) -> None:
    _registered.pop(name, None)
    _removed.add(name)


def backbone_names() -> list[str]:
    return list(_registry())


def all_backbones() -> list[BackboneSpec]:
    return list(_registry().values())


def get_backbone(name: str) -> BackboneSpec:
    """The spec registered under `name`; a ConfigError listing the valid names otherwise."""
    known = _registry(complete=False)
    if name in known:
        return known[name]
    try:
        return _registry()[name]
    except KeyError:
        raise ConfigError(
            f"Unknown backbone '{name}'. Available: {', '.join(backbone_names())}."
        ) from None


def availability(spec: BackboneSpec) -> str:
    """"bundled" (weights installed with the app), "cached" (downloaded before) or "download needed"."""
    if spec.bundled_weights_path is not None:
        return BUNDLED
    return CACHED if weight_files.cached_weights_path(spec.weights_url) else DOWNLOAD_NEEDED


def pretrained_weights_file(spec: BackboneSpec, *, allow_download: bool = True,
                            base_url: str | None = None, progress: ByteProgress | None = None,
                            cancel: CancelToken | None = None) -> Path:
    """The local file holding `spec`'s ImageNet weights, downloading it first when allowed."""
    if spec.bundled_weights_path is not None:
        path = spec.bundled_weights_path()
        if not path.is_file():
            raise WeightsError(
                f"The bundled weights of {spec.display_name} are missing ({path}). "
                f"Reinstall the package '{spec.weights_package}'.", path=str(path))
        return path
    cached = weight_files.cached_weights_path(spec.weights_url)
    if cached:
        return cached
    if not allow_download:
        raise WeightsError(
            f"The ImageNet weights of {spec.display_name} are not on this computer. Download them "
            f"(needs internet), or get {spec.weights_filename} from {spec.weights_url} and import it "
            f"with `transfer-gui backbones --import {spec.name} FILE`.")
    return weight_files.download_weights(spec.weights_url, base_url=base_url, progress=progress,
                                         cancel=cancel, sha256=spec.weights_sha256)


def build_network(spec: BackboneSpec, *, pretrained: bool, allow_download: bool = True,
                  base_url: str | None = None, progress: ByteProgress | None = None,
                  cancel: CancelToken | None = None) -> nn.Module:
    """The backbone with its ImageNet head removed: maps (B, 3, H, W) to (B, feature_dim)."""
    net = spec.build_network()
    if pretrained:
        path = pretrained_weights_file(spec, allow_download=allow_download, base_url=base_url,
                                       progress=progress, cancel=cancel)
        state = weight_files.load_state_dict_file(path)
        try:
            weight_files.load_into(net, state, what=spec.display_name)
        except WeightsError as error:  # name the file: it may be one the user imported or edited
            raise WeightsError(f"{path}: {error}", path=str(path)) from None
    return spec.strip_head(net)


def import_weights(spec: BackboneSpec, source: str | Path) -> Path:
    """Import a user-chosen weights file for a torchvision backbone into the cache, checked."""
    if spec.weights_url is None:
        raise WeightsError(f"{spec.display_name} ships with its weights; nothing to import.")
    dest = weight_files.import_weights_file(source, spec.weights_filename,
                                            sha256=spec.weights_sha256)
    try:
        weight_files.load_into(spec.build_network(), weight_files.load_state_dict_file(dest),
                               what=spec.display_name)
    except WeightsError as error:
        dest.unlink(missing_ok=True)
        raise WeightsError(f"{source}: {error}", path=str(source)) from None
    return dest
