"""2.5D U-Net with a segmentation head and a pixel-embedding projection head.

Input: (N, 2*context+1, H, W) float32 slices (centre slice and its neighbours as channels),
H and W divisible by 2**(len(widths)-1). Output: logits (N, K+1, H, W); L2-normalised
pixel embeddings (embed_dim) come from the projection head on the decoder features.
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
                 norm: str, coords: bool = False) -> None:
        super().__init__()
        self.coords = coords
        self.backbone = UNet2d(in_ch + (2 if coords else 0), widths, norm)
        c = self.backbone.out_channels
        self.seg_head = nn.Conv2d(c, n_classes, 1)
        self.proj_head = nn.Sequential(
            nn.Conv2d(c, c, 1), nn.LeakyReLU(0.01, inplace=True), nn.Conv2d(c, embed_dim, 1)
        )
        self.n_classes = n_classes

    def forward(self, x: torch.Tensor, features: bool = False):
        """x: (N, C_in, H, W). Returns logits (N, K+1, H, W) [and the decoder features
        (N, c, H, W) if ``features``; turn chosen pixels of them into embeddings with
        :meth:`project`]."""
        f = self.backbone(self._with_coords(x))
        logits = self.seg_head(f)
        if not features:
            return logits
        return logits, f

    def _with_coords(self, x: torch.Tensor) -> torch.Tensor:
        """Append two channels holding the in-plane position (-1..1) on the working grid.

        The working grid is centred on each study's body (:mod:`preprocess`), so these are
        body-relative coordinates: they let the network tell left from right organs of the
        same appearance (left vs right kidney, spleen vs left kidney) that a U-Net's
        effective receptive field alone separated poorly in short budgets.
        """
        if not self.coords:
            return x
        n, _, h, w = x.shape
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gy, gx])[None].expand(n, 2, h, w)
        return torch.cat([x, grid.to(memory_format=torch.contiguous_format)], dim=1)

    def project(self, feats: torch.Tensor) -> torch.Tensor:
        """Projection head on gathered pixels: (P, c) features -> (P, embed_dim) unit vectors.

        The head is two 1x1 convolutions, i.e. a per-pixel MLP, so applying it to the few
        hundred pixels the contrastive loss samples equals applying it to the whole map and
        slicing, at a fraction of the cost (measured: the full-map head + normalisation made
        a fast-preset CPU step ~0.8 s slower).
        """
        c1, c2 = self.proj_head[0], self.proj_head[2]
        assert isinstance(c1, nn.Conv2d) and isinstance(c2, nn.Conv2d)
        h = F.leaky_relu(F.linear(feats, c1.weight.flatten(1), c1.bias), 0.01)
        z = F.linear(h, c2.weight.flatten(1), c2.bias)
        return F.normalize(z.float(), dim=1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Dense L2-normalised embeddings (N, embed_dim, H, W) (inspection and tests)."""
        f = self.backbone(self._with_coords(x))
        return F.normalize(self.proj_head(f).float(), dim=1)


def build_elsnet(cfg: ElsnetConfig, n_classes: int) -> Elsnet:
    """Build the network for ``n_classes`` outputs (background included)."""
    return Elsnet(2 * cfg.context + 1, n_classes, tuple(cfg.widths), cfg.embed_dim, cfg.norm,
                  coords=cfg.coord_channels)
