"""Completing a slice exemplar in 3D with a random walker (slice setting).

A model trained from one painted slice has seen every organ at one level only; far from it,
it calls any tissue that looks a little like an organ by that organ's name (docs/benchmarks.md,
session 11: on chaos_mr_t2 the liver spread over bowel, muscle and the heart, about as many
false-positive voxels outside the liver's true extent as inside it). The missing information
is negative evidence: where each organ ends, and what the tissue at other levels is.

The exemplar study itself holds that information in its image edges. A random walker (Grady,
PAMI 2006) seeded with the painted slice -- every organ and the background painted there --
gives each voxel of the study the probability that a walk from it reaches each seed label
first, walks being unlikely to cross strong intensity edges. The diaphragm, an organ's
capsule or the fat around a kidney are such edges, so the organs' labels stop near them
and the background label fills what lies beyond. Voxels whose probability is at least
``threshold`` take its label; the rest stay 255 (not annotated), so the training losses
ignore them. The painted voxels are kept exactly as painted.

Measured on the three development exemplars (session 11, one painted slice, working-like
resolution, completion against the exemplar's own expert label, before any training):
mean Dice over organs of the completed label chaos_mr_t2 0.917, acdc_cine 0.745, synapse_ct
0.49 (13 classes) at beta 64,000; 4,000 was lower on all three, 16,000 lower on the two where
it was run (chaos_mr_t2, acdc_cine), 256,000 lower on chaos_mr_t2: the best common setting of
a 4x grid. Background voxels kept at
the 0.9 threshold were >= 99.7 % right on all three; organ voxels 96.6 / 75.3 / 89.5 % (cine
MR: a thin myocardium, and blood pools that run on into the atria with no edge between). End to end
(``fast``, protocol slice; docs/benchmarks.md, session 11): chaos_mr_t2 0.448 -> 0.691,
synapse_ct 8-organ 0.188 -> 0.274, acdc_cine -0.033 / +0.071 over two seeds.

Large studies (a long CT with many organs) walk a coarse grid first and then the working
grid again, seeded by what the coarse walk is sure of (``refine``; session 12: the Synapse
exemplar's completed label 0.318 -> 0.438 mean organ Dice, end to end 8-organ 0.394 ->
0.443 on seed 0; docs/benchmarks.md, session 12).

Pure numpy + scikit-image (multigrid solver from pyamg), CPU only.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from elsnet_core.losses import IGNORE

log = logging.getLogger(__name__)

__all__ = ["CompletionSettings", "complete_label"]


@dataclass(frozen=True)
class CompletionSettings:
    """beta: edge sensitivity of the walk (scikit-image's, on intensities in [0, 1]);
    threshold: least probability for a voxel to take a label (else 255);
    tol: relative tolerance of the linear solver;
    organs: keep the organ labels the walk gives (else only its background: the negative
    evidence, without the organ voxels it is least sure of);
    max_label_voxels: the solver's work grows with voxels x labels (one linear system per
    label; ~2.8 s per million on a 2-core EPYC): above this, the walk runs on a grid whose
    in-plane pixels are 2 (3, ...) times larger and its probabilities are interpolated back,
    so a long CT with many organs costs about as much as a CHAOS study (a 148-slice synapse_ct
    exemplar, 12 labels on its painted slice: 80-90 s at the working grid, ~17 s at twice its
    pixels);
    refine: after a coarse walk, walk again at the working grid with the coarse walk's sure
    voxels (shrunk by two pixels per label) as extra seeds, so only boundaries and what the
    coarse grid could not see are solved at full resolution. On that synapse_ct exemplar
    (session 12, against its expert label): mean organ Dice of the completed label 0.318
    coarse only, 0.438 refined (~49 s), 0.447 walking the working grid outright (~85 s);
    aorta coverage 0.31 -> 0.63, liver 0.66 -> 0.94;
    refine_tolerance: a voxel whose intensity differs from its block's mean by more than this
    is never seeded from the coarse walk (the block hid something, e.g. a vessel thinner than
    a block: 0.1 = 40 HU in the CT window)."""

    beta: float = 64000.0
    threshold: float = 0.9
    tol: float = 1e-3
    organs: bool = True
    max_label_voxels: float = 10e6
    refine: bool = True
    refine_tolerance: float = 0.1


def _solver_mode() -> str:
    try:
        import pyamg  # noqa: F401  (multigrid: ~1.5x faster than Jacobi-preconditioned CG)
    except ImportError:  # pragma: no cover - pyamg is a dependency; stay usable without it
        return "cg_j"
    return "cg_mg"


def complete_label(image: np.ndarray, label: np.ndarray, spacing: tuple[float, float, float],
                   settings: CompletionSettings | None = None) -> np.ndarray:
    """Fill the unannotated voxels of ``label`` where the random walk is confident.

    image: (Z, H, W) float working volume (intensities in [0, 1]); label: (Z, H, W) uint8,
    0 background, 1..K organs, 255 not annotated; spacing: (z_mm, row_mm, col_mm).
    Returns a new label map (painted voxels unchanged). Without background and at least one
    organ among the annotated voxels there is nothing to walk between: ``label`` is returned
    unchanged.
    """
    s = settings or CompletionSettings()
    known = label != IGNORE
    values = np.unique(label[known])
    if 0 not in values or len(values) < 2:
        log.warning("random-walk completion skipped: the annotation needs background and at "
                    "least one organ (has %s)", values.tolist())
        return label.copy()
    data = np.asarray(image, np.float64)
    if not float(data.std()) > 1e-6:  # a blank image has no edges to follow
        log.warning("random-walk completion skipped: the image is uniform")
        return label.copy()
    seeds = np.zeros(label.shape, np.int32)
    seeds[known] = label[known].astype(np.int32) + 1
    step = _inplane_step(label.shape, len(values), s.max_label_voxels)
    if step > 1:
        coarse_spacing = (spacing[0], spacing[1] * step, spacing[2] * step)
        coarse = _block_mean(data, step)
        prob = _walk(coarse, _block_centre(seeds, step), coarse_spacing, s)
        # back onto the working grid; boundary voxels get in-between probabilities
        prob = _upsample(prob.astype(np.float32), step, label.shape)
        if s.refine:
            # where a voxel differs from its block's mean, the coarse walk saw something
            # else than is there (a vessel thinner than a block): walk it again
            seen = np.abs(data - _expand(coarse, step, label.shape)) <= s.refine_tolerance
            seeds = _refine_seeds(seeds, prob, values, s.threshold, seen)
            prob = _walk(data, seeds, spacing, s)
    else:
        prob = _walk(data, seeds, spacing, s)
    # return_full_prob orders the planes by the sorted seed values present
    best = prob.argmax(axis=0)
    conf = np.take_along_axis(prob, best[None], axis=0)[0]
    out = np.where(conf >= s.threshold, values[best], IGNORE).astype(np.uint8)
    if not s.organs:
        out[out != 0] = IGNORE
    out[known] = label[known]
    kept = float((out != IGNORE).mean())
    log.info("random-walk completion: %.0f%% of the exemplar labelled (%.0f%% painted; "
             "in-plane step %d)", 100 * kept, 100 * float(known.mean()), step)
    return out


def _walk(data: np.ndarray, seeds: np.ndarray, spacing: tuple[float, float, float],
          s: CompletionSettings) -> np.ndarray:
    """(L, Z, H, W) probabilities of the seed labels present, in sorted order."""
    from skimage.segmentation import random_walker

    with warnings.catch_warnings():
        # at a high beta the solver's tolerance lets probabilities stray a hair outside
        # [0, 1]; only their order and the threshold matter here
        warnings.filterwarnings("ignore", message="The probability range is outside")
        return random_walker(data, seeds, beta=s.beta, mode=_solver_mode(), tol=s.tol,
                             spacing=tuple(float(v) for v in spacing), return_full_prob=True)


def _refine_seeds(seeds: np.ndarray, prob: np.ndarray, values: np.ndarray,
                  confidence: float, seen: np.ndarray) -> np.ndarray:
    """Seeds for the working-grid walk after a coarse one: the painted voxels, plus every
    voxel the coarse walk is at least ``confidence`` sure of, shrunk by two voxels per label
    so that each boundary, and the band around it, is walked again at full resolution."""
    best = prob.argmax(axis=0)
    sure = (prob.max(axis=0) >= confidence) & seen
    out = seeds.copy()
    free = seeds == 0
    for plane, value in enumerate(values):
        core = ndimage.binary_erosion(sure & (best == plane), iterations=2)
        out[core & free] = int(value) + 1
    return out


def _inplane_step(shape: tuple[int, ...], n_labels: int, budget: float) -> int:
    """Smallest in-plane subsampling step that keeps voxels x labels within ``budget``."""
    z, h, w = shape
    step = 1
    while z * -(-h // step) * -(-w // step) * n_labels > budget and step < min(h, w):
        step += 1
    return step


def _pad_to(a: np.ndarray, step: int) -> np.ndarray:
    ph, pw = -a.shape[1] % step, -a.shape[2] % step
    return np.pad(a, ((0, 0), (0, ph), (0, pw)), mode="edge") if ph or pw else a


def _block_mean(a: np.ndarray, step: int) -> np.ndarray:
    """(Z, H, W) -> (Z, ceil(H/step), ceil(W/step)): mean of each step x step block."""
    p = _pad_to(a, step)
    z, h, w = p.shape
    return p.reshape(z, h // step, step, w // step, step).mean(axis=(2, 4))


def _block_centre(a: np.ndarray, step: int) -> np.ndarray:
    """The value at (about) the centre of each step x step block (labels: no averaging)."""
    c = step // 2
    return np.ascontiguousarray(_pad_to(a, step)[:, c::step, c::step])


def _expand(a: np.ndarray, step: int, shape: tuple[int, ...]) -> np.ndarray:
    """Block grid -> working grid, every block's value on all its pixels."""
    return np.repeat(np.repeat(a, step, axis=1), step, axis=2)[:, : shape[1], : shape[2]]


def _upsample(prob: np.ndarray, step: int, shape: tuple[int, ...]) -> np.ndarray:
    """(L, Z, h, w) block-grid probabilities -> (L, *shape), linear in-plane, pixel centres
    aligned (a block's value sits at its centre)."""
    out = np.stack([ndimage.zoom(p, (1, step, step), order=1, mode="nearest", grid_mode=True)
                    for p in prob])
    return out[:, :, : shape[1], : shape[2]]
