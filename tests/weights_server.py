"""A downloadable test backbone: its generated "ImageNet" weights served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from synthetic import TinyNet
from transfer_gui.core.models import register_backbone, unregister_backbone
from transfer_gui.core.models.spec import BackboneSpec, Preprocessing


class TinyWithHead(nn.Module):
    """TinyNet plus an "ImageNet" head, as torchvision networks come."""

    def __init__(self) -> None:
        super().__init__()
        self.features = TinyNet()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def _strip(net: TinyWithHead) -> TinyWithHead:
    net.fc = nn.Identity()
    return net


@contextlib.contextmanager
def served_backbone(folder: Path, name: str, like: BackboneSpec | None = None
                    ) -> Iterator[tuple[BackboneSpec, dict[str, torch.Tensor], Path]]:
    """Registers backbone `name` whose weights file, named as torchvision names its files
    (`name-<sha256 prefix>.pth`), a local HTTP server serves from `folder`. The network is a
    tiny one, or `like`'s architecture (a real registry entry) with generated weights.

    Yields (spec, the published state dict, the published file); unregisters and stops after.
    """
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(5)
    state = (like.build_network() if like is not None else TinyWithHead()).state_dict()
    raw = folder / "raw.pth"
    torch.save(state, raw)
    published = raw.rename(folder / f"{name}-{hashlib.sha256(raw.read_bytes()).hexdigest()[:8]}.pth")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = BackboneSpec(
        name=name, display_name=f"Tiny {name} net", family="torchvision", num_params=1_600,
        gflops=0.0001, imagenet_top1=1.0,
        preprocessing=Preprocessing(32, 36, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        feature_dim=16, cam_layer="features.block2", build_network=TinyWithHead,
        strip_head=_strip, stages=lambda net: [net.features.block1, net.features.block2],
        weights_url=f"http://127.0.0.1:{server.server_address[1]}/{published.name}")
    if like is not None:  # a pinned digest (DINOv2's) becomes the generated file's
        pin = hashlib.sha256(published.read_bytes()).hexdigest() if like.weights_sha256 else None
        spec = dataclasses.replace(like, name=name, weights_url=spec.weights_url,
                                   weights_sha256=pin)
    register_backbone(spec)
    try:
        yield spec, state, published
    finally:
        unregister_backbone(spec.name)
        server.shutdown()
        server.server_close()
