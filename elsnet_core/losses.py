"""Losses: cross-entropy + soft Dice ignoring label 255, and the pixel-prototype InfoNCE.

Targets are (N, H, W) int64 with 0 = background, 1..K organs, 255 = not annotated/ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = 255


def ce_dice_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0,
                 smooth: float = 1.0, class_weights: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, dict[str, float]]:
    """CE + soft Dice (foreground classes, batch-pooled) over non-ignored pixels.

    logits: (N, C, H, W) float; target: (N, H, W) int64. Returns (loss, {"ce", "dice"}).
    Pixels equal to 255 contribute nothing (to CE nor Dice); an all-ignored batch gives 0.
    ``class_weights`` (C,): per-class CE weights (see :func:`class_balance_weights`); the CE
    stays a weighted mean, so uniform weights give the plain loss.
    """
    logits = logits.float()
    valid = target != IGNORE
    if not bool(valid.any()):
        zero = logits.sum() * 0.0
        return zero, {"ce": 0.0, "dice": 0.0}
    w = class_weights.to(logits.device, torch.float32) if class_weights is not None else None
    ce = F.cross_entropy(logits, target, weight=w, ignore_index=IGNORE)
    probs = logits.softmax(dim=1)
    c = logits.shape[1]
    tgt = torch.where(valid, target, torch.zeros_like(target))
    onehot = F.one_hot(tgt, c).permute(0, 3, 1, 2).float()
    v = valid[:, None].float()
    p = probs * v
    g = onehot * v
    inter = (p * g).sum(dim=(0, 2, 3))[1:]
    denom = (p + g).sum(dim=(0, 2, 3))[1:]
    dice = 1.0 - ((2 * inter + smooth) / (denom + smooth)).mean()
    loss = ce + dice_weight * dice
    return loss, {"ce": float(ce.detach()), "dice": float(dice.detach())}


def class_balance_weights(counts: Sequence[float], power: float, max_weight: float = 10.0,
                          min_ratio: float = 1.0) -> list[float]:
    """CE weights that lift organs much smaller than the average organ.

    counts: labelled voxels per class (index 0 = background). Organ c gets
    ``min(max_weight, max(1, (mean organ count / count_c) ** power))`` when the ratio
    ``mean organ count / count_c`` is at least ``min_ratio``; background, organs at least
    average-sized (or less than ``min_ratio`` times smaller) and absent classes keep 1.
    ``power`` 0 gives all ones.
    Why: at a 128-px working grid Synapse's gallbladder, oesophagus and adrenals cover
    20-40 pixels of a slice; unweighted, the fast preset never predicted them, not even on
    the exemplar it trained on (session 14, docs/benchmarks.md).
    """
    organ = [float(c) for c in counts[1:] if c > 0]
    weights = [1.0] * len(counts)
    if power <= 0 or not organ:
        return weights
    mean = sum(organ) / len(organ)
    for c in range(1, len(counts)):
        ratio = mean / float(counts[c]) if counts[c] > 0 else 0.0
        if ratio >= max(min_ratio, 1.0):
            weights[c] = float(min(max_weight, ratio ** power))
    return weights


def boundary_mask(target: torch.Tensor) -> torch.Tensor:
    """(N, H, W) int64 -> (N, H, W) bool: pixels whose 3x3 neighbourhood has another label."""
    t = target.float()[:, None]
    hi = F.max_pool2d(t, 3, stride=1, padding=1)
    lo = -F.max_pool2d(-t, 3, stride=1, padding=1)
    return (hi != lo)[:, 0]


class PrototypeContrast(nn.Module):
    """Pixel-to-prototype InfoNCE with momentum-updated class prototypes.

    Prototypes: (C, D) L2-normalised, updated after each call as
    ``p_c <- normalize(m * p_c + (1 - m) * mean(z_i : y_i = c))`` (no gradient).
    Sampling: per class present, up to ``pixels_per_class`` pixels, half drawn from hard
    pixels (on a label boundary or misclassified) when available, the rest uniformly.
    """

    prototypes: torch.Tensor  # (C, D) buffer
    seen: torch.Tensor  # (C,) bool buffer

    def __init__(self, n_classes: int, dim: int, temperature: float = 0.1,
                 momentum: float = 0.9, pixels_per_class: int = 64) -> None:
        super().__init__()
        self.temperature = temperature
        self.momentum = momentum
        self.pixels_per_class = pixels_per_class
        self.register_buffer("prototypes", torch.zeros(n_classes, dim))
        self.register_buffer("seen", torch.zeros(n_classes, dtype=torch.bool))

    def _sample(self, target: torch.Tensor, hard: torch.Tensor, gen: torch.Generator | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel indices (flattened N*H*W) and their classes, balanced per class."""
        flat_t = target.reshape(-1)
        flat_h = hard.reshape(-1)
        k = self.pixels_per_class
        # candidates: all hard pixels plus a uniform random subset (bounded work per call)
        n_uniform = min(flat_t.numel(), 64 * k)
        uni = torch.randint(flat_t.numel(), (n_uniform,), generator=gen, device="cpu")
        uni = uni.to(flat_t.device)
        hard_idx = flat_h.nonzero(as_tuple=True)[0]
        pick = torch.randperm(hard_idx.numel(), generator=gen, device="cpu")[: 64 * k]
        hard_idx = hard_idx[pick.to(hard_idx.device)]
        idx_all, cls_all = [], []
        t_uni, t_hard = flat_t[uni], flat_t[hard_idx]
        for c in torch.unique(torch.cat([t_uni, t_hard])).tolist():
            if c == IGNORE:
                continue
            h = hard_idx[t_hard == c][: k // 2]
            u = uni[t_uni == c]
            u = u[: k - h.numel()]
            if h.numel() + u.numel() < k:  # rare class: take all of its pixels we can find
                extra = (flat_t == c).nonzero(as_tuple=True)[0]
                perm = torch.randperm(extra.numel(), generator=gen, device="cpu")
                u = torch.cat([u, extra[perm[: k - h.numel() - u.numel()].to(extra.device)]])
            sel = torch.cat([h, u])
            idx_all.append(sel)
            cls_all.append(torch.full_like(sel, c))
        if not idx_all:
            empty = torch.zeros(0, dtype=torch.long, device=target.device)
            return empty, empty
        return torch.cat(idx_all), torch.cat(cls_all)

    def forward(self, emb: torch.Tensor, target: torch.Tensor, logits: torch.Tensor | None = None,
                gen: torch.Generator | None = None,
                project: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """emb: (N, D, H, W) L2-normalised embeddings, or (N, c, H, W) features when
        ``project`` maps gathered (P, c) features to (P, D) unit vectors (cheaper: only the
        sampled pixels are projected). target: (N, H, W) int64; logits: (N, C, H, W).

        Returns the scalar InfoNCE loss (0 when no labelled pixel), and updates prototypes.
        """
        h, w = emb.shape[2:]
        hard = boundary_mask(target)
        if logits is not None:
            hard = hard | (logits.detach().argmax(dim=1) != target)
        idx, cls = self._sample(target, hard, gen)
        if idx.numel() == 0:
            return emb.sum() * 0.0
        # gather (N*H*W, d) rows without materialising a permuted copy of the whole map
        n_idx, rem = idx // (h * w), idx % (h * w)
        z = emb[n_idx, :, rem // w, rem % w]
        z = project(z) if project is not None else z.float()
        with torch.no_grad():
            self._update(z, cls)
        protos = self.prototypes
        sim = z @ protos.t() / self.temperature
        sim = sim.masked_fill(~self.seen[None], float("-inf"))
        return F.cross_entropy(sim, cls)

    @torch.no_grad()
    def _update(self, z: torch.Tensor, cls: torch.Tensor) -> None:
        for c in torch.unique(cls).tolist():
            mean = F.normalize(z[cls == c].mean(dim=0), dim=0)
            if bool(self.seen[c]):
                new = self.momentum * self.prototypes[c] + (1 - self.momentum) * mean
            else:
                new = mean
                self.seen[c] = True
            self.prototypes[c] = F.normalize(new, dim=0)
