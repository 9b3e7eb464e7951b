"""Segmentation metrics of the one-shot protocol (``../shared/data/README.md``, point 4).

* 3D Dice per foreground class per test case, on the test image's own grid. A class absent
  from both prediction and truth is *skipped* for that case (``None``); present in only one
  of them, it scores 0.
* Aggregation: each class is averaged over the cases where it was not skipped, then the
  mean is taken over classes (classes skipped in every case do not count).
* ``synapse_ct`` additionally reports the standard 8-organ mean (:data:`SYNAPSE_8_ORGANS`).
* HD95 in mm per class per case (symmetric 95th percentile of the surface distances, with
  the voxel spacing). It is ``None`` when the class is absent from both, and ``inf`` when
  it is present in only one (no finite distance exists); infinite values are left out of
  the HD95 means and counted separately (``hd95_missing``).

Label maps are ``(X, Y, Z)`` integer arrays (nibabel voxel order), spacing in mm per axis.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

logger = logging.getLogger(__name__)

__all__ = [
    "SYNAPSE_8_ORGANS",
    "CaseScores",
    "aggregate",
    "dice",
    "evaluate_case",
    "hd95",
]

#: the standard 8-organ subset evaluated on Synapse multi-organ CT.
SYNAPSE_8_ORGANS: tuple[str, ...] = (
    "spleen",
    "kidney_right",
    "kidney_left",
    "gallbladder",
    "liver",
    "stomach",
    "aorta",
    "pancreas",
)


def dice(pred: np.ndarray, truth: np.ndarray) -> float | None:
    """Dice of two boolean masks of the same shape; ``None`` if both are empty."""
    p = np.asarray(pred, dtype=bool)
    t = np.asarray(truth, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {t.shape}")
    denom = int(p.sum()) + int(t.sum())
    if denom == 0:
        return None
    return 2.0 * int(np.logical_and(p, t).sum()) / denom


def pooled_dice(pairs: Iterable[tuple[np.ndarray, np.ndarray]], n_classes: int,
                ignore: int = 255) -> dict[int, float]:
    """Dice of each class over several (prediction, truth) label maps pooled, counting only
    voxels whose truth is not ``ignore``; classes absent from every truth are left out."""
    inter = np.zeros(n_classes, dtype=np.int64)
    sizes = np.zeros(n_classes, dtype=np.int64)  # |pred| + |truth|
    present = np.zeros(n_classes, dtype=bool)
    for pred, truth in pairs:
        if pred.shape != truth.shape:
            raise ValueError(f"shape mismatch {pred.shape} vs {truth.shape}")
        known = truth != ignore
        p = pred[known].astype(np.int64)
        t = truth[known].astype(np.int64)
        p = np.where(p < n_classes, p, 0)  # a class the truth cannot hold counts as a miss
        tc = np.bincount(t[t < n_classes], minlength=n_classes)
        inter += np.bincount(t[p == t], minlength=n_classes)
        sizes += np.bincount(p, minlength=n_classes) + tc
        present |= tc > 0
    return {c: float(2 * inter[c] / sizes[c]) for c in range(1, n_classes) if present[c]}


def _surface(mask: np.ndarray) -> np.ndarray:
    """Boundary voxels of a boolean mask (voxels with a 6-neighbour outside the mask)."""
    if not mask.any():
        return mask
    eroded = ndimage.binary_erosion(
        mask, structure=ndimage.generate_binary_structure(3, 1), border_value=0
    )
    return mask & ~eroded


def hd95(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float | None:
    """Symmetric 95th-percentile Hausdorff distance (mm) between two boolean masks.

    The distances from every surface voxel of each mask to the nearest surface voxel of the
    other are pooled, and their 95th percentile is returned (the common MedPy definition).

    Args:
        pred, truth: ``(X, Y, Z)`` boolean masks of the same shape.
        spacing: voxel spacing in mm, one entry per axis.

    Returns:
        The distance in mm; ``None`` if both masks are empty; ``inf`` if only one is.
    """
    p = np.asarray(pred, dtype=bool)
    t = np.asarray(truth, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {t.shape}")
    has_p, has_t = bool(p.any()), bool(t.any())
    if not has_p and not has_t:
        return None
    if not (has_p and has_t):
        return math.inf
    # crop to the joint bounding box (+1 voxel) so distance transforms stay cheap
    idx = np.argwhere(p | t)
    lo = np.maximum(idx.min(0) - 1, 0)
    hi = np.minimum(idx.max(0) + 2, p.shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    sp, st = _surface(p[sl]), _surface(t[sl])
    sampling = [float(s) for s in spacing]
    dist_to_t = ndimage.distance_transform_edt(~st, sampling=sampling)
    dist_to_p = ndimage.distance_transform_edt(~sp, sampling=sampling)
    d = np.concatenate([dist_to_t[sp], dist_to_p[st]])
    return float(np.percentile(d, 95))


@dataclass(frozen=True)
class CaseScores:
    """Scores of one test case: per foreground class value, ``None`` = skipped."""

    case: str
    dice: dict[int, float | None]
    hd95: dict[int, float | None]


def evaluate_case(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: Sequence[float],
    classes: Iterable[int],
    *,
    case: str = "",
    with_hd95: bool = True,
) -> CaseScores:
    """Dice (and HD95) of every foreground class of one case.

    Args:
        pred, truth: ``(X, Y, Z)`` integer label maps on the test image's grid.
        spacing: voxel spacing in mm.
        classes: foreground class values to score (e.g. 1..K from dataset.json).
        case: case name, kept for reporting.
        with_hd95: also compute HD95 (a few hundred ms per class on a CT volume).
    """
    pred = np.asarray(pred)
    truth = np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} != truth shape {truth.shape}")
    d: dict[int, float | None] = {}
    h: dict[int, float | None] = {}
    for c in classes:
        pm, tm = pred == c, truth == c
        d[int(c)] = dice(pm, tm)
        h[int(c)] = hd95(pm, tm, spacing) if with_hd95 else None
    return CaseScores(case=case, dice=d, hd95=h)


def _mean(values: Iterable[float]) -> float | None:
    v = list(values)
    return float(np.mean(v)) if v else None


def aggregate(
    cases: Sequence[CaseScores],
    class_names: Mapping[int, str],
    *,
    subset: Sequence[str] | None = None,
) -> dict[str, object]:
    """Protocol aggregation: per class over cases (skips excluded), then mean over classes.

    Args:
        cases: per-case scores.
        class_names: foreground class value -> name (background excluded).
        subset: optional class names for an extra subset mean (e.g. :data:`SYNAPSE_8_ORGANS`);
            names missing from ``class_names`` are ignored.

    Returns:
        ``{"dice": {name: mean or None}, "mean_dice": float | None,
        "hd95": {name: mean of finite values or None}, "mean_hd95": ...,
        "hd95_missing": {name: count of inf}, "n_cases": int,
        "subset_mean_dice": float | None (only with ``subset``)}``.
    """
    per_dice: dict[str, float | None] = {}
    per_hd: dict[str, float | None] = {}
    missing: dict[str, int] = {}
    for c, name in sorted(class_names.items()):
        dv = [s.dice[c] for s in cases if s.dice.get(c) is not None]
        per_dice[name] = _mean(v for v in dv if v is not None)
        hv = [s.hd95.get(c) for s in cases]
        per_hd[name] = _mean(v for v in hv if v is not None and math.isfinite(v))
        missing[name] = sum(1 for v in hv if v is not None and not math.isfinite(v))
    out: dict[str, object] = {
        "dice": per_dice,
        "mean_dice": _mean(v for v in per_dice.values() if v is not None),
        "hd95": per_hd,
        "mean_hd95": _mean(v for v in per_hd.values() if v is not None),
        "hd95_missing": missing,
        "n_cases": len(cases),
    }
    if subset is not None:
        vals = [per_dice[n] for n in subset if per_dice.get(n) is not None]
        out["subset_mean_dice"] = _mean(v for v in vals if v is not None)
    return out
