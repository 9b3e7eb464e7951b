"""Slice-to-slice label propagation through the exemplar (slice setting).

When the exemplar is annotated on one slice (or a few), the rest of its label map is 255 =
not annotated. Its neighbouring slices show the same organs, moved and reshaped a little per
slice step: a 2D deformable registration from each slice to the next carries the painted
labels outwards, so stage 1 and the cohort registrations see a slab of labels instead of a
single plane. Errors accumulate with distance, so propagation stops at ``max_mm`` from the
painted slice, and voxels near a propagated organ boundary (where the accumulated error
lives) are left unknown (255), the band widening with distance.

Measured (session 4, ``fast``, one seed, protocol slice): at 20 mm it did not help end to
end — chaos_mr_t2 0.504 vs 0.507 without, synapse_ct 8-organ 0.190 vs 0.290 — although the
propagated labels themselves are >= 90% right on foreground up to ~20 mm
(``bench_results/dev_runs/slice_propagation``). Stage 2 already pseudo-labels the
exemplar's unpainted slices with the network, and propagated small organs that end within
the slab add wrong labels. Hence ``slice_propagation_mm = 0`` (off) by default.

Pure numpy + SimpleITK, CPU only. Arrays are working volumes ``(Z, H, W)``; the painted
slices are those with at least ``min_annotated`` of their voxels annotated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from elsnet_core.losses import IGNORE

log = logging.getLogger(__name__)

__all__ = ["PropagationSettings", "painted_slices", "propagate_slices"]


@dataclass(frozen=True)
class PropagationSettings:
    """How far and how carefully painted slices are carried to their neighbours.

    max_mm: farthest propagated slice from a painted one, in mm along the slice axis.
    band_mm_per_10mm: width (mm, in-plane) of the unknown band kept around each propagated
        organ boundary, per 10 mm of distance from the painted slice.
    demons_iterations / smoothing_mm: 2D diffeomorphic demons per slice step.
    """

    max_mm: float = 30.0
    band_mm_per_10mm: float = 2.0
    demons_iterations: int = 60
    smoothing_mm: float = 3.0


def painted_slices(label: np.ndarray, min_annotated: float = 0.5) -> list[int]:
    """Indices z of slices of ``label`` (Z, H, W) that are mostly annotated (not 255)."""
    known = (label != IGNORE).reshape(label.shape[0], -1).mean(axis=1)
    return [int(z) for z in np.flatnonzero(known >= min_annotated)]


def _slice_image(a: np.ndarray, pixel_mm: tuple[float, float]) -> sitk.Image:
    img = sitk.GetImageFromArray(np.ascontiguousarray(a, dtype=np.float32))
    img.SetSpacing((float(pixel_mm[1]), float(pixel_mm[0])))
    return img


def _step_field(fixed: np.ndarray, moving: np.ndarray, pixel_mm: tuple[float, float],
                s: PropagationSettings) -> sitk.Transform:
    """2D transform mapping points of ``fixed`` to points of ``moving`` (pull-back)."""
    f = sitk.SmoothingRecursiveGaussian(_slice_image(fixed, pixel_mm), 1.0)
    m = sitk.SmoothingRecursiveGaussian(_slice_image(moving, pixel_mm), 1.0)
    demons = sitk.DiffeomorphicDemonsRegistrationFilter()
    demons.SetNumberOfIterations(s.demons_iterations)
    demons.SetSmoothDisplacementField(True)
    demons.SetStandardDeviations(s.smoothing_mm)
    field = demons.Execute(f, m)
    return sitk.DisplacementFieldTransform(sitk.Cast(field, sitk.sitkVectorFloat64))


def _warp_probs(probs: np.ndarray, tx: sitk.Transform, pixel_mm: tuple[float, float]
                ) -> np.ndarray:
    out = np.empty_like(probs)
    for c in range(probs.shape[0]):
        img = _slice_image(probs[c], pixel_mm)
        res = sitk.Resample(img, img, tx, sitk.sitkLinear, 1.0 if c == 0 else 0.0)
        out[c] = sitk.GetArrayFromImage(res)
    out /= np.maximum(out.sum(axis=0, keepdims=True), 1e-6)
    return out


def _boundary_band(lab: np.ndarray, width_px: float) -> np.ndarray:
    """Pixels within ``width_px`` of a boundary between two different labels."""
    if width_px < 0.5:
        return np.zeros(lab.shape, bool)
    edge = np.zeros(lab.shape, bool)
    edge[:-1] |= lab[:-1] != lab[1:]
    edge[1:] |= lab[:-1] != lab[1:]
    edge[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    edge[:, 1:] |= lab[:, :-1] != lab[:, 1:]
    if not edge.any():
        return edge
    return ndimage.distance_transform_edt(~edge) <= width_px


def propagate_slices(image: np.ndarray, label: np.ndarray, spacing: tuple[float, float, float],
                     settings: PropagationSettings | None = None) -> np.ndarray:
    """Carry the painted slices of ``label`` to unpainted neighbours within ``max_mm``.

    image: (Z, H, W) float working volume; label: (Z, H, W) uint8, 0..K classes, 255 unknown;
    spacing: (z_mm, row_mm, col_mm). Returns a new label map: painted slices unchanged,
    propagated slices filled (255 in the uncertain boundary bands), the rest still 255.
    A slice between two painted ones takes the nearer.
    """
    s = settings or PropagationSettings()
    z_mm, pixel_mm = float(spacing[0]), (float(spacing[1]), float(spacing[2]))
    out = label.copy()
    painted = painted_slices(label)
    if not painted or s.max_mm <= 0:
        return out
    n_classes = int(max(int(v) for v in np.unique(label) if v != IGNORE)) + 1
    steps = int(np.floor(s.max_mm / max(z_mm, 1e-3) + 1e-6))
    owner = {z: 0 for z in painted}  # distance (slices) of the source that filled z
    for z0 in painted:
        lab0 = label[z0]
        probs = np.stack([(lab0 == c).astype(np.float32) for c in range(n_classes)])
        # unknown pixels of a painted slice (rare: partially painted) count as background
        probs[0] += (lab0 == IGNORE)
        for direction in (-1, 1):
            p, prev = probs, z0
            for k in range(1, steps + 1):
                z = z0 + direction * k
                if z < 0 or z >= label.shape[0] or owner.get(z, steps + 1) <= k:
                    break
                tx = _step_field(image[z], image[prev], pixel_mm, s)
                p = _warp_probs(p, tx, pixel_mm)
                lab = p.argmax(axis=0).astype(np.uint8)
                band_px = s.band_mm_per_10mm * (k * z_mm / 10.0) / min(pixel_mm)
                lab[_boundary_band(lab, band_px)] = IGNORE
                out[z] = lab
                owner[z] = k
                prev = z
    log.info("propagated %d painted slice(s) to %d neighbours (max %.0f mm)",
             len(painted), len(owner) - len(painted), s.max_mm)
    return out
