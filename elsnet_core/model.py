"""2.5D U-Net with a segmentation head and a pixel-embedding projection head.

Input: (N, 2*context+1, H, W) float32 slices (centre slice and its neighbours as channels),
H and W divisible by 2**(len(widths)-1). Output: logits (N, K+1, H, W) and L2-normalised
embeddings (N, embed_dim, H, W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from elsnet_core.config import ElsnetConfig


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    raise ValueError(f"unknown norm {kind!r}")


class ConvBlock(nn.Sequential):
    """Two 3x3 conv + norm + LeakyReLU."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            _norm(norm, cout),
            nn.LeakyReLU(0.01, inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            _norm(norm, cout),
            nn.LeakyReLU(0.01, inplace=True),
        )


class UNet2d(nn.Module):
    """Plain U-Net encoder/decoder returning the last decoder feature map."""

    def __init__(self, in_ch: int, widths: tuple[int, ...], norm: str) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        c = in_ch
        for w in widths:
            self.down.append(ConvBlock(c, w, norm))
            c = w
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(c, w, 2, stride=2))
            self.dec.append(ConvBlock(2 * w, w, norm))
            c = w
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1]), strict=True):
            x = dec(torch.cat([up(x), skip], dim=1))
        return x


class Elsnet(nn.Module):
    """Backbone + segmentation head + projection head."""

    def __init__(self, in_ch: int, n_classes: int, widths: tuple[int, ...], embed_dim: int,
                 norm: str) -> None:
        super().__init__()
        self.backbone = UNet2d(in_ch, widths, norm)
        c = self.backbone.out_channels
        self.seg_head = nn.Conv2d(c, n_classes, 1)
        self.proj_head = nn.Sequential(
            nn.Conv2d(c, c, 1), nn.LeakyReLU(0.01, inplace=True), nn.Conv2d(c, embed_dim, 1)
        )
        self.n_classes = n_classes

    def forward(self, x: torch.Tensor, embed: bool = False):
        """x: (N, C_in, H, W). Returns logits (N, K+1, H, W) [and embeddings if ``embed``]."""
        f = self.backbone(x)
        logits = self.seg_head(f)
        if not embed:
            return logits
        z = F.normalize(self.proj_head(f).float(), dim=1)
        return logits, z


def build_elsnet(cfg: ElsnetConfig, n_classes: int) -> Elsnet:
    """Build the network for ``n_classes`` outputs (background included)."""
    return Elsnet(2 * cfg.context + 1, n_classes, tuple(cfg.widths), cfg.embed_dim, cfg.norm)
