"""Guiding the annotator: which study to annotate, and which slice to paint next.

Which study: the choice of exemplar dominates one-shot results (METHOD.md: up to 0.2 Dice between
exemplars). A typical study -- the medoid of the cohort in a coarse, body-centred,
intensity-normalised space -- transfers best, since every other study is close to it.
This is a cheap heuristic (seconds for a cohort), no registration and no labels needed.

Which slice next (:func:`suggest_next_slice`): a model trained from one painted slice is
right near the painted level and confidently wrong far from it (docs/benchmarks.md,
session 6: it calls look-alike tissue at other levels "liver"; a second painted level with
organs on it lifted three CHAOS organs by 0.04-0.21). The rule bisects the largest stretch
of the organs' extent (as the current model predicts it in the exemplar study) that no
painted slice covers, so each new slice adds evidence where there is least of it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from elsnet_core.io import Volume, load_volume
from elsnet_core.losses import IGNORE
from elsnet_core.preprocess import WorkingGrid, detect_modality, normalize_intensity
from elsnet_core.propagation import painted_slices

log = logging.getLogger(__name__)


def thumbnail(volume: Volume, modality: str | None = None, size: int = 32, depth: int = 16,
              pixel_mm: float = 12.0) -> np.ndarray:
    """Coarse body-centred descriptor: (depth, size, size) float32 in [0, 1].

    In-plane: ``size`` pixels of ``pixel_mm`` around the body centre (working axes);
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


@dataclass(frozen=True)
class SliceSuggestion:
    """The slice to paint next in one exemplar study.

    slice_index: index along the study's third voxel axis (its own slice axis, as stored).
    organ_extent: (first, last) slice index of the organs' extent the rule worked in.
    gap_mm: length of the unpainted stretch the slice bisects.
    """

    slice_index: int
    organ_extent: tuple[int, int]
    gap_mm: float


def suggest_next_slice(predicted: np.ndarray, painted: np.ndarray, slice_mm: float, *,
                       min_area_share: float = 0.1, min_gap_mm: float = 20.0
                       ) -> SliceSuggestion | None:
    """The middle of the largest unpainted stretch of the organs' extent, or None.

    Args:
        predicted: ``(X, Y, Z)`` labels the current model predicts for the exemplar study
            (0 background, 1..K organs).
        painted: ``(X, Y, Z)`` the exemplar's label map as painted (255 = not annotated).
        slice_mm: distance between neighbouring slices (mm).
        min_area_share: a slice belongs to the organs' extent while its organ area (painted
            where painted, predicted elsewhere) is at least this share of the painted
            slices' mean organ area; the extent is the run of such slices through the
            painted ones.
        min_gap_mm: no suggestion when every unpainted stretch is shorter (the organs are
            covered well enough; a painted neighbour adds little).

    Returns None when nothing is painted yet (paint the slice with the most organs first)
    or no stretch is long enough.
    """
    pred = np.asarray(predicted)
    lab = np.asarray(painted)
    if pred.shape != lab.shape or pred.ndim != 3:
        raise ValueError(f"predicted {pred.shape} and painted {lab.shape} must be one 3D grid")
    if slice_mm <= 0:
        raise ValueError(f"slice_mm must be > 0, got {slice_mm}")
    done = painted_slices(np.moveaxis(lab, 2, 0))  # (Z, X, Y): slices are the third axis
    if not done:
        return None
    n = lab.shape[2]
    fg_pred = (pred > 0).reshape(-1, n).sum(axis=0)
    fg_paint = ((lab > 0) & (lab != IGNORE)).reshape(-1, n).sum(axis=0)
    area = fg_pred.astype(np.float64)
    area[done] = fg_paint[done]
    ref = float(np.mean(fg_paint[done]))
    if ref <= 0:
        return None  # only background painted: nothing tells where the organs are
    inside = area >= min_area_share * ref
    inside[done] = True
    lo, hi = min(done), max(done)
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < n - 1 and inside[hi + 1]:
        hi += 1
    # stretches without a painted slice: below the first, between two, above the last
    bounds = [lo - 1, *done, hi + 1]  # virtual painted slices just outside the extent
    best: tuple[float, int] | None = None
    for a, b in itertools.pairwise(bounds):
        first, last = a + 1, b - 1  # the unpainted slices of this stretch
        if last < first:
            continue
        if a == lo - 1 or b == hi + 1:
            # an end stretch: bisected between its painted slice and the extent's last slice
            p, end = (b, first) if a == lo - 1 else (a, last)
            gap_mm = abs(p - end) * slice_mm
            k = (p + end) // 2
        else:  # between two painted slices
            gap_mm = (b - a) * slice_mm
            k = (a + b) // 2
        if gap_mm >= min_gap_mm and (best is None or gap_mm > best[0]):
            best = (gap_mm, int(k))
    if best is None:
        return None
    return SliceSuggestion(slice_index=best[1], organ_extent=(lo, hi), gap_mm=best[0])
