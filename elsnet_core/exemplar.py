"""Which study would make the best exemplar? Rank a cohort by how typical each study is.

The choice of exemplar dominates one-shot results (METHOD.md: up to 0.2 Dice between
exemplars). A typical study -- the medoid of the cohort in a coarse, body-centred,
intensity-normalised space -- transfers best, since every other study is close to it.
This is a cheap heuristic (seconds for a cohort), no registration and no labels needed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from elsnet_core.io import Volume, load_volume
from elsnet_core.preprocess import WorkingGrid, detect_modality, normalize_intensity

log = logging.getLogger(__name__)


def thumbnail(volume: Volume, modality: str | None = None, size: int = 32, depth: int = 16,
              pixel_mm: float = 12.0) -> np.ndarray:
    """Coarse body-centred descriptor: (depth, size, size) float32 in [0, 1].

    In-plane: ``size`` pixels of ``pixel_mm`` around the body centre (canonical axes);
    along the slice axis: ``depth`` samples spread over the whole study.
    """
    mod = modality or detect_modality(volume.array)
    norm = normalize_intensity(volume.array, mod)
    grid = WorkingGrid.plan(volume.affine, volume.shape, norm, size, pixel_mm)
    work = torch.from_numpy(grid.to_working(norm))[None, None]  # (1, 1, Z, S, S)
    out = F.interpolate(work, size=(depth, size, size), mode="trilinear", align_corners=True)
    return out[0, 0].numpy()


def rank_exemplars(studies: Sequence[str | Path | Volume]) -> list[tuple[int, float]]:
    """Rank studies as exemplar candidates, best first.

    Returns [(index into ``studies``, typicality in [-1, 1])], typicality = mean normalised
    cross-correlation of the study's thumbnail with every other study's thumbnail.
    """
    vols = [s if isinstance(s, Volume) else load_volume(s) for s in studies]
    if len(vols) < 2:
        return [(0, 1.0)] if vols else []
    modality = detect_modality(vols[0].array)
    thumbs = np.stack([thumbnail(v, modality).reshape(-1) for v in vols])
    thumbs = thumbs - thumbs.mean(axis=1, keepdims=True)
    thumbs /= np.linalg.norm(thumbs, axis=1, keepdims=True) + 1e-8
    ncc = thumbs @ thumbs.T
    n = len(vols)
    score = (ncc.sum(axis=1) - 1.0) / (n - 1)
    order = np.argsort(-score, kind="stable")
    return [(int(i), float(score[i])) for i in order]
