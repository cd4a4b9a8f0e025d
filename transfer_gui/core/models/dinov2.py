"""DINOv2 ViT-S/14 with registers (Oquab et al. 2023; Darcet et al. 2024): a self-supervised
vision transformer, used as frozen features.

The module is small and written here so that the publisher's file loads strictly, key for key
(`dinov2_vits14_reg4_pretrain.pth` from dl.fbaipublicfiles.com: patch_embed, cls_token,
pos_embed for 37x37 patches, register_tokens, mask_token, 12 blocks with LayerScale, norm),
without another dependency. The position embeddings are resized (bicubic) to the input's patch
grid, as the publisher's code does. The features are the normalised class token and the mean of
the patch tokens, concatenated (768 values), as the paper's linear evaluation takes them.
Code and weights: Apache-2.0 (github.com/facebookresearch/dinov2).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .spec import BackboneSpec, Preprocessing

WEIGHTS_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth"
# SHA-256 of the publisher's file, as another project that ships it pins it (it could not be
# downloaded here to check): a file with another digest is refused, downloaded or imported.
WEIGHTS_SHA256 = "f433177089a681826f849f194ece3bb48f4d63fb38d32fc837e3dc7a4e5641fb"
LICENCE = "Apache-2.0 (DINOv2 code and weights, Meta Platforms; github.com/facebookresearch/dinov2)"
EMBED_DIM, DEPTH, HEADS, PATCH, REGISTERS, TRAINED_GRID = 384, 12, 6, 14, 4, 37


class PatchEmbed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, EMBED_DIM, PATCH, PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)  # (B, C, h, w): CAM can read the patch grid here


class LayerScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((EMBED_DIM,), 1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(EMBED_DIM, 3 * EMBED_DIM)
        self.proj = nn.Linear(EMBED_DIM, EMBED_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(EMBED_DIM, 4 * EMBED_DIM)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * EMBED_DIM, EMBED_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(EMBED_DIM, eps=1e-6)
        self.attn = Attention()
        self.ls1 = LayerScale()
        self.norm2 = nn.LayerNorm(EMBED_DIM, eps=1e-6)
        self.mlp = Mlp()
        self.ls2 = LayerScale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoV2(nn.Module):
    """ViT-S/14 with 4 registers; `forward` gives the 768 features (class token and mean patch
    token, both normalised). `patch_size` and `image_size` tell CAM the token grid, and
    `prefix_tokens` how many tokens come before the patches (class token and registers)."""

    patch_size = PATCH
    image_size = 224
    prefix_tokens = 1 + REGISTERS

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, EMBED_DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + TRAINED_GRID ** 2, EMBED_DIM))
        self.register_tokens = nn.Parameter(torch.zeros(1, REGISTERS, EMBED_DIM))
        # In the file (masked-image training); unused here, so never trained.
        self.mask_token = nn.Parameter(torch.zeros(1, EMBED_DIM), requires_grad=False)
        self.blocks = nn.ModuleList(Block() for _ in range(DEPTH))
        self.norm = nn.LayerNorm(EMBED_DIM, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        nn.init.normal_(self.register_tokens, std=1e-6)

    def _position(self, h: int, w: int) -> torch.Tensor:
        """The position embeddings resized to an (h, w) patch grid."""
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        if (h, w) != (TRAINED_GRID, TRAINED_GRID):
            grid = patch_pos.reshape(1, TRAINED_GRID, TRAINED_GRID, EMBED_DIM).permute(0, 3, 1, 2)
            grid = F.interpolate(grid.float(), size=(h, w), mode="bicubic", align_corners=False)
            patch_pos = grid.permute(0, 2, 3, 1).reshape(1, h * w, EMBED_DIM).to(patch_pos.dtype)
        return torch.cat([cls_pos, patch_pos], dim=1)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1 + registers + patches, C), normalised."""
        patches = self.patch_embed(x)
        b, c, h, w = patches.shape
        x = torch.cat([self.cls_token.expand(b, -1, -1), patches.flatten(2).transpose(1, 2)], 1)
        x = x + self._position(h, w)
        x = torch.cat([x[:, :1], self.register_tokens.expand(b, -1, -1), x[:, 1:]], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokens(x)
        return torch.cat([t[:, 0], t[:, self.prefix_tokens:].mean(dim=1)], dim=1)


def _stages(net: DinoV2) -> list[nn.Module]:
    """The patch embedding with the tokens it adds, then each block; the final norm last."""
    stem = nn.ModuleList([net.patch_embed])
    return [stem, *net.blocks[:-1], nn.ModuleList([net.blocks[-1], net.norm])]


def dinov2_specs() -> list[BackboneSpec]:
    return [BackboneSpec(
        name="dinov2_vits14_reg", display_name="DINOv2 ViT-S/14 (registers)", family="dinov2",
        num_params=22_058_112, gflops=6.1, imagenet_top1=81.1,  # linear probe, the paper's
        preprocessing=Preprocessing(224, 256, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        feature_dim=2 * EMBED_DIM, cam_layer="blocks.11.norm1", build_network=DinoV2,
        strip_head=lambda net: net, stages=_stages, weights_url=WEIGHTS_URL,
        download_mb=88.0, weights_sha256=WEIGHTS_SHA256, licence=LICENCE)]
