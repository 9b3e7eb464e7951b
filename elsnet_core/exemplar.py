"""Guiding the annotator: which study to annotate, and which slice to paint next.

Which study (:func:`rank_exemplars`): the choice of exemplar dominates one-shot results
(METHOD.md: up to 0.2 Dice between exemplars). Every candidate is registered to a few other
studies with the atlas registration, and the one whose image maps best onto the cohort's is
suggested (no labels needed). Measured in session 24 (docs/benchmarks.md): a whole-image
likeness without registration (this module's first rule) did no better than chance.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elsnet_core.io import Volume, load_volume
from elsnet_core.losses import IGNORE
from elsnet_core.propagation import painted_slices
from elsnet_core.registration import normalise_intensity, register

log = logging.getLogger(__name__)


#: how many other studies each candidate is registered to (see :func:`rank_exemplars`): all of a
#: 10-study cohort. Fewer made the pick a lottery on ACDC (5 partners: below the median exemplar
#: in 8 of 20 partner draws; 9: never; docs/benchmarks.md, session 24)
RANK_PARTNERS = 9
#: voxels of either registered image above this (of [0, 1]) count for the similarity: the body
BODY_LEVEL = 0.02


def registered_similarity(candidate: Volume, partner: Volume, *, seed: int = 0,
                          threads: int | None = None) -> float:
    """How well ``candidate``'s image maps onto ``partner`` by the atlas registration.

    ``candidate`` is registered (affine + demons, :func:`elsnet_core.registration.register`,
    the atlas baseline's settings) onto ``partner``; returns the normalised cross-correlation
    of the two robustly normalised images on the partner's grid, over the voxels where either
    shows the body. In [-1, 1].
    """
    res = register(partner.array, candidate.array, partner.spacing, candidate.spacing,
                   seed=seed, threads=threads)
    moved = res.warp(normalise_intensity(candidate.array))
    fixed = normalise_intensity(partner.array)
    body = (moved > BODY_LEVEL) | (fixed > BODY_LEVEL)
    if body.sum() < 2:
        return 0.0
    x = moved[body] - moved[body].mean()
    y = fixed[body] - fixed[body].mean()
    return float((x * y).sum() / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-8))


def rank_exemplars(
    studies: Sequence[str | Path | Volume],
    *,
    partners: int = RANK_PARTNERS,
    seed: int = 0,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[int, float]]:
    """Rank studies as exemplar candidates, best first: [(index into ``studies``, score)].

    A candidate's score is the mean :func:`registered_similarity` of the candidate registered
    onto ``partners`` other studies (all others when fewer): how well the atlas registration
    maps its image onto the cohort's. Measured on the dev packs (docs/benchmarks.md, session
    24) against the Dice its labels reach on every other study after that registration, its
    pick was never below the median candidate (CHAOS 0.681 against a median of 0.655, ACDC
    0.595, the best, against 0.464, Synapse 0.338 = the median of 5), where a whole-image
    likeness without registration picked ACDC's below the median; the signal is weak (rank
    correlation +0.44, +0.37, -0.10).

    Cost: ``len(studies) * partners`` registrations (1-16 s each on 2 CPU cores, by study
    size). Partners follow a seeded circular order, so only ``partners + 1`` volumes are held
    at once when ``studies`` are paths (each read about once). ``progress(done, total)`` is
    called after each registration.
    """
    n = len(studies)
    if n < 2:
        return [(0, 1.0)] if n else []
    k = max(1, min(int(partners), n - 1))
    order = [int(i) for i in np.random.default_rng(seed).permutation(n)]
    cache: dict[int, Volume] = {}

    def volume(i: int) -> Volume:
        item = studies[i]
        if isinstance(item, Volume):
            return item
        if i not in cache:
            cache[i] = load_volume(item)
        return cache[i]

    scores = np.zeros(n)
    total, done = n * k, 0
    for pos, cand in enumerate(order):
        window = [order[(pos + j) % n] for j in range(k + 1)]
        for i in list(cache):  # keep only this candidate and its partners
            if i not in window:
                del cache[i]
        sims = []
        for partner in window[1:]:
            sims.append(registered_similarity(volume(cand), volume(partner), seed=seed, threads=threads))
            done += 1
            if progress is not None:
                progress(done, total)
        scores[cand] = float(np.mean(sims))
        log.debug("exemplar candidate %d: similarity %.3f over %d partners", cand, scores[cand], k)
    ranked = np.argsort(-scores, kind="stable")
    return [(int(i), float(scores[i])) for i in ranked]


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
