"""Exemplar-guided synthesis of annotated training samples.

Two sources of variation, both applied in the 2D working grid (see :mod:`preprocess`):

* random transforms (:func:`augment`): affine + elastic warps applied with ONE sampling grid
  to image channels (bilinear) and labels (nearest), so labels stay aligned; optionally one
  organ per sample grown or shrunk about its centre (:func:`organ_scale_grid`: subjects'
  organs differ in size far more than one exemplar shows); appearance
  transforms (random monotone intensity curves / gamma, multiplicative bias field, contrast,
  blur, noise) applied to images only.
* cohort-learned transforms (:func:`cohort_bank`): the exemplar is registered (affine +
  deformable) to every unlabeled study; the real deformation carries the exemplar image and
  labels onto that study's anatomy, and the exemplar's intensities are remapped per organ to
  the intensity profile of a (possibly other) cohort study, so synthetic pairs look like the
  cohort, not like the exemplar.

Working volumes are (Z, S, S): slices along the acquisition axis, S x S in-plane pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from elsnet_core.losses import IGNORE

if TYPE_CHECKING:
    from elsnet_core.registration import RegistrationResult

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------
# random transforms (torch, batched)
# ----------------------------------------------------------------------------------------


def _rand(gen: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def random_grid(n: int, size: int, gen: torch.Generator, rotate_deg: float = 12.0,
                scale: tuple[float, float] = (0.85, 1.15), shift: float = 0.06,
                elastic: float = 0.03, elastic_grid: int = 6,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """Random affine + smooth elastic sampling grid (N, size, size, 2), align_corners=True.

    ``elastic`` is the displacement std in normalised units (1.0 = half the field of view).
    """
    ang = _rand(gen, n, -rotate_deg, rotate_deg) * math.pi / 180
    sc = torch.exp(_rand(gen, n, math.log(scale[0]), math.log(scale[1])))
    aniso = torch.exp(_rand(gen, n, -0.08, 0.08))
    sx, sy = sc * aniso, sc / aniso
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(ang) / sx
    theta[:, 0, 1] = -torch.sin(ang) / sx
    theta[:, 1, 0] = torch.sin(ang) / sy
    theta[:, 1, 1] = torch.cos(ang) / sy
    theta[:, :, 2] = _rand(gen, 2 * n, -shift, shift).view(n, 2)
    grid = F.affine_grid(theta.to(device), [n, 1, size, size], align_corners=True)
    if elastic > 0:
        coarse = (torch.randn(n, 2, elastic_grid, elastic_grid, generator=gen) * elastic).to(device)
        disp = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)
        grid = grid + disp.permute(0, 2, 3, 1)
    return grid


def organ_scale_grid(grid: torch.Tensor, label: torch.Tensor, gen: torch.Generator,
                     max_scale: float, p: float = 0.5, reach: float = 1.5) -> torch.Tensor:
    """Compose ``grid`` with a smooth local scaling of one organ per sample.

    grid: (N, H, W, 2) sampling grid (output pixel -> input position, normalised, as
    :func:`random_grid` returns); label: (N, H, W) input labels (0 background, 255 unknown).
    With probability ``p`` a sample picks one organ present in its label and scales it by
    s, log-uniform in [1 / max_scale, max_scale] (:func:`scale_organs`). Image and label are
    then warped by the same grid, so they stay aligned.
    """
    n = label.shape[0]
    if max_scale <= 1.0 or p <= 0:
        return grid
    use = torch.rand(n, generator=gen) < p
    logs = _rand(gen, n, -math.log(max_scale), math.log(max_scale))
    picks = torch.rand(n, generator=gen)
    lab = label.detach().cpu()
    organs = []
    for i in range(n):
        present = ([int(c) for c in torch.unique(lab[i]) if 0 < int(c) != IGNORE]
                   if bool(use[i]) else [])
        organs.append(present[min(int(float(picks[i]) * len(present)), len(present) - 1)]
                      if present else 0)
    return scale_organs(grid, lab, organs, torch.exp(logs), reach)


def scale_organs(grid: torch.Tensor, label: torch.Tensor, organs: list[int],
                 scales: torch.Tensor, reach: float = 1.5) -> torch.Tensor:
    """Compose ``grid`` with the scaling of organ ``organs[i]`` by ``scales[i]`` in sample i.

    The input position u becomes ``u - k w(u) (u - c)``, c the organ's centroid, ``k = 1 -
    1/s``, ``w = exp(-|u - c|^2 / 2 sigma^2)`` with sigma = ``reach`` x the organ's
    radius (from its spread about c, so a ring or crescent counts by its outer size): the
    organ grows (s > 1) or shrinks about its centre, its surroundings follow smoothly, and
    the map stays invertible (positive Jacobian for s in [0.5, 2]).
    Organ 0, or an organ of fewer than 4 pixels, leaves that sample's grid as it is.
    """
    n, h, w = label.shape
    xs = torch.linspace(-1, 1, w)
    ys = torch.linspace(-1, 1, h)
    centre = torch.zeros(n, 2)  # (x, y) in grid units
    sigma = torch.ones(n)
    k = torch.zeros(n)
    for i, c in enumerate(organs):
        if c == 0:
            continue
        mask = label[i] == c
        area = float(mask.sum())
        if area < 4:
            continue
        iy, ix = mask.nonzero(as_tuple=True)
        px, py = xs[ix], ys[iy]
        centre[i, 0] = px.mean()
        centre[i, 1] = py.mean()
        # the organ's radius from its spread about the centroid (sqrt(2) x the RMS distance:
        # a disc's radius exactly; for a ring such as the myocardium, ~1.4x the ring's radius
        # rather than the small radius of a disc of the ring's area)
        rms2 = float(((px - centre[i, 0]) ** 2 + (py - centre[i, 1]) ** 2).mean())
        sigma[i] = reach * math.sqrt(2.0 * rms2)
        k[i] = 1.0 - 1.0 / float(scales[i])
    if not bool((k != 0).any()):
        return grid
    dev = grid.device
    cen = centre.to(dev).view(n, 1, 1, 2)
    d = grid - cen
    wgt = torch.exp(-(d ** 2).sum(-1, keepdim=True) / (2 * sigma.to(dev).view(n, 1, 1, 1) ** 2))
    return grid - k.to(dev).view(n, 1, 1, 1) * wgt * d


def warp_pair(image: torch.Tensor, label: torch.Tensor, grid: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp images (N, C, H, W) bilinearly and labels (N, H, W) by nearest, same grid.

    Outside the field of view: image 0, label 0 (background).
    """
    img = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    lab = F.grid_sample(label[:, None].float(), grid, mode="nearest", padding_mode="zeros",
                        align_corners=True)
    return img, lab[:, 0].round().long()


def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with sigma in pixels."""
    if sigma <= 0.05:
        return image
    k = _gauss_kernel(sigma).to(image)
    c = image.shape[1]
    r = k.numel() // 2
    kx = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(image, (r, r, 0, 0), mode="replicate"), kx, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), ky, groups=c)


def random_appearance(image: torch.Tensor, gen: torch.Generator, strong: bool = True
                      ) -> torch.Tensor:
    """Random appearance change of (N, C, H, W) images in [0, 1]; same change on all C.

    strong=False: gamma, brightness/contrast and noise only (standard augmentation).
    strong=True: also random monotone intensity curves, bias field and blur.
    """
    n, _, h, w = image.shape
    dev = image.device
    x = image.clamp(0, 1)
    gamma = torch.exp(_rand(gen, n, -0.4, 0.4)).view(n, 1, 1, 1).to(dev)
    x = x.pow(gamma)
    if strong:
        # random monotone piecewise-linear curve through 6 knots
        knots = 6
        inc = torch.rand(n, knots - 1, generator=gen) + 0.35
        ys = torch.cat([torch.zeros(n, 1), inc.cumsum(dim=1)], dim=1)
        ys = (ys / ys[:, -1:]).to(dev)
        pos = x * (knots - 1)
        i0 = pos.floor().clamp(0, knots - 2).long()
        frac = pos - i0
        y0 = torch.gather(ys, 1, i0.view(n, -1)).view_as(x)
        y1 = torch.gather(ys, 1, (i0 + 1).view(n, -1)).view_as(x)
        curved = y0 + frac * (y1 - y0)
        use = (torch.rand(n, generator=gen) < 0.6).float().view(n, 1, 1, 1).to(dev)
        x = use * curved + (1 - use) * x
        # multiplicative smooth bias field
        coarse = (torch.randn(n, 1, 4, 4, generator=gen) * 0.12).to(dev)
        field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
        x = x * torch.exp(field)
        sig = float(_rand(gen, 1, 0.0, 1.0)) if float(torch.rand(1, generator=gen)) < 0.3 else 0.0
        x = blur(x, sig)
    contrast = _rand(gen, n, 0.8, 1.25).view(n, 1, 1, 1).to(dev)
    bright = _rand(gen, n, -0.08, 0.08).view(n, 1, 1, 1).to(dev)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean + bright
    noise = _rand(gen, n, 0.0, 0.04).view(n, 1, 1, 1).to(dev)
    if dev.type == "cpu":
        eps = torch.randn(x.shape, generator=gen)
    else:  # unseeded on accelerators (no CPU->GPU copy of a full noise batch)
        eps = torch.randn(x.shape, device=dev)
    x = x + noise * eps
    return x.clamp(0, 1)


def augment(image: torch.Tensor, label: torch.Tensor, gen: torch.Generator, *,
            strong: bool = True, rotate_deg: float = 12.0,
            scale: tuple[float, float] = (0.85, 1.15), elastic: float = 0.03,
            organ_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatial (shared by image and label) then appearance augmentation of a batch.

    image: (N, C, S, S) float32 in [0, 1]; label: (N, S, S) int64 (255 kept as ignore).
    organ_scale > 1: half of the samples get one organ resized by up to that factor
    (:func:`organ_scale_grid`).
    """
    n, _, s, _ = image.shape
    grid = random_grid(n, s, gen, rotate_deg=rotate_deg, scale=scale, elastic=elastic,
                       device=image.device)
    grid = organ_scale_grid(grid, label, gen, organ_scale)
    img, lab = warp_pair(image, label, grid)
    # no mirror flips: left/right organs (kidneys, adrenals) must keep their handedness
    return random_appearance(img, gen, strong=strong), lab


# ----------------------------------------------------------------------------------------
# cohort-learned transforms (numpy, 3D registration)
# ----------------------------------------------------------------------------------------


@dataclass
class CohortSample:
    """The exemplar carried onto study ``target`` with the appearance of study ``style``.

    image: (Z, S, S) float32 in [0, 1] on the target's working grid;
    label: (Z, S, S) uint8 (255 = unknown) on the same grid.
    """

    target: int
    style: int
    image: np.ndarray
    label: np.ndarray


def _quantile_map(src_vals: np.ndarray, dst_vals: np.ndarray, qs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    if src_vals.size < 50 or dst_vals.size < 50:
        return None
    xs = np.percentile(src_vals, qs)
    ys = np.percentile(dst_vals, qs)
    xs = np.maximum.accumulate(xs + np.arange(xs.size) * 1e-6)
    ys = np.maximum.accumulate(ys)
    return xs, ys


def intensity_transfer(ex_img: np.ndarray, ex_lab: np.ndarray, dst_img: np.ndarray,
                       dst_lab: np.ndarray, n_classes: int, smooth_px: float = 1.5,
                       per_organ: bool = True) -> np.ndarray:
    """Remap exemplar intensities to a cohort study's profile, organ by organ.

    ex_img/ex_lab: exemplar working volume (Z, S, S); dst_img/dst_lab: a cohort study and the
    exemplar labels propagated onto it by registration (same shape as each other). For every
    class annotated in both, exemplar quantiles are mapped to the study's quantiles inside
    the (eroded) organ; unknown voxels use the global body mapping. Class maps are blended
    with smoothed masks so no artificial edges appear. Returns (Z, S, S) float32 in [0, 1].
    """
    qs = np.linspace(2, 98, 13)
    body_ex = ex_img > 0.02
    body_dst = dst_img > 0.02
    glob = _quantile_map(ex_img[body_ex], dst_img[body_dst], qs)
    out_global = np.interp(ex_img, *glob) if glob else ex_img.copy()
    out_global = np.where(body_ex, out_global, ex_img)
    if not per_organ:
        return np.clip(out_global, 0, 1).astype(np.float32)
    acc = np.zeros_like(ex_img, dtype=np.float32)
    wsum = np.zeros_like(ex_img, dtype=np.float32)
    struct = ndimage.generate_binary_structure(3, 1)
    struct[0] = struct[2] = False  # erode in-plane only (thick slices)
    for c in range(1, n_classes):
        m_ex = ex_lab == c
        m_dst = ndimage.binary_erosion(dst_lab == c, struct, iterations=2)
        if m_ex.sum() < 50 or m_dst.sum() < 50:
            continue
        m_ex_core = ndimage.binary_erosion(m_ex, struct, iterations=2)
        if m_ex_core.sum() < 50:
            m_ex_core = m_ex
        mp = _quantile_map(ex_img[m_ex_core], dst_img[m_dst], qs)
        if mp is None:
            continue
        w = ndimage.gaussian_filter(m_ex.astype(np.float32), (0, smooth_px, smooth_px))
        acc += w * np.interp(ex_img, *mp).astype(np.float32)
        wsum += w
    wsum_c = np.clip(wsum, 0, 1)
    blended = np.where(wsum > 1e-3, acc / np.maximum(wsum, 1e-3), out_global)
    out = wsum_c * blended + (1 - wsum_c) * out_global
    return np.clip(out, 0, 1).astype(np.float32)


RegisterFn = Callable[..., "RegistrationResult"]


def get_register() -> RegisterFn:
    """``elsnet_core.registration.register``, imported on first use (it loads SimpleITK)."""
    from elsnet_core.registration import register

    return register


def cohort_bank(ex_img: np.ndarray, ex_lab: np.ndarray, studies: list[np.ndarray],
                spacing: list[tuple[float, float, float]], ex_spacing: tuple[float, float, float],
                n_classes: int, gen: np.random.Generator, *, iterations: int = 20,
                coarse_mm: float = 6.0,
                affine_mode: str = "affine",
                styles_per_target: int = 2,
                per_organ_intensity: bool = True,
                on_step: Callable[[int, int], None] | None = None,
                register: RegisterFn | None = None,
                ) -> tuple[list[CohortSample], list[np.ndarray]]:
    """Register the exemplar to each study and synthesise cohort-looking annotated volumes.

    ex_img (Z, S, S) float32, ex_lab (Z, S, S) uint8; studies: list of (Z_j, S, S) float32;
    spacing/ex_spacing: working-grid spacing (mm) along (Z, S, S) axes... given as (i, j, z).
    Returns (samples, propagated labels per study (Z_j, S, S) uint8 with 255 unknown).
    """
    reg = register or get_register()
    ex_xyz = np.ascontiguousarray(np.transpose(ex_img, (1, 2, 0)))
    lab_xyz = np.ascontiguousarray(np.transpose(ex_lab, (1, 2, 0)))
    results: list = []
    propagated = []
    for j, st in enumerate(studies):
        fixed = np.ascontiguousarray(np.transpose(st, (1, 2, 0)))
        try:
            res = reg(fixed, ex_xyz, spacing[j], ex_spacing, deformable=True,
                      iterations=iterations, coarse_spacing_mm=coarse_mm,
                      affine_mode=affine_mode)
            warped_lab = np.asarray(res.warp(lab_xyz, order=0))
        except (RuntimeError, ValueError) as exc:  # e.g. a single-slice study
            log.warning("registration to study %d failed (%s); no cohort samples from it", j, exc)
            res, warped_lab = None, np.full(fixed.shape, IGNORE, np.uint8)
        results.append(res)
        propagated.append(np.ascontiguousarray(np.transpose(warped_lab, (2, 0, 1))).astype(np.uint8))
        if on_step:
            on_step(j + 1, len(studies) * 2)
    samples = []
    n = len(studies)
    ok = [k for k in range(n) if results[k] is not None]
    for j in ok:
        others = [k for k in ok if k != j]
        # other members' appearances, reused in turn when the cohort is smaller than asked
        styles = [int(k) for k in gen.permutation(others)] or [j]
        picks = [j, *(styles[i % len(styles)] for i in range(max(0, styles_per_target - 1)))]
        for v, k in enumerate(picks):
            # the registration's own deformation first, then interpolated / extrapolated ones
            scale = 1.0 if v == 0 else float(gen.uniform(0.4, 1.25))
            styled = intensity_transfer(ex_img, ex_lab, studies[k], propagated[k], n_classes,
                                        per_organ=per_organ_intensity)
            warped = np.asarray(results[j].warp(np.transpose(styled, (1, 2, 0)), order=1,
                                                scale=scale))
            lab = propagated[j] if scale == 1.0 else np.transpose(
                np.asarray(results[j].warp(lab_xyz, order=0, scale=scale)), (2, 0, 1))
            samples.append(CohortSample(
                target=j, style=int(k),
                image=np.clip(np.transpose(warped, (2, 0, 1)), 0, 1).astype(np.float32),
                label=np.ascontiguousarray(lab).astype(np.uint8)))
        if on_step:
            on_step(n + j + 1, 2 * n)
    return samples, propagated


#: an organ needs this many voxels in both label maps to place the start of a re-registration
MIN_START_VOXELS = 20


def organ_start(fixed_lab: np.ndarray, moving_lab: np.ndarray,
                fixed_spacing: tuple[float, float, float],
                moving_spacing: tuple[float, float, float]) -> np.ndarray | None:
    """The shift (mm, fixed point -> moving point, (x, y, z) of the (X, Y, Z) arrays) that
    brings the organs found in ``fixed_lab`` onto the same organs of ``moving_lab``.

    Both maps: (X, Y, Z) uint8, 0 background, 255 unknown. Per organ present in both (at
    least ``MIN_START_VOXELS`` voxels each) the difference of the centres; the median over
    organs, so one organ placed wrongly does not move the start. None when no organ is shared.
    """
    shifts = []
    for c in np.unique(moving_lab):
        if c in (0, IGNORE):
            continue
        f, m = np.argwhere(fixed_lab == c), np.argwhere(moving_lab == c)
        if len(f) < MIN_START_VOXELS or len(m) < MIN_START_VOXELS:
            continue
        shifts.append(m.mean(axis=0) * np.asarray(moving_spacing)
                      - f.mean(axis=0) * np.asarray(fixed_spacing))
    if not shifts:
        return None
    return np.median(np.stack(shifts), axis=0)


def reregister_from_network(ex_img: np.ndarray, ex_lab: np.ndarray, study: np.ndarray,
                            network_lab: np.ndarray, spacing: tuple[float, float, float],
                            ex_spacing: tuple[float, float, float], *, iterations: int = 20,
                            coarse_mm: float = 6.0, affine_mode: str = "affine",
                            register: RegisterFn | None = None) -> np.ndarray | None:
    """Register the exemplar to a study again, starting where a network found its organs.

    The cohort registrations (:func:`cohort_bank`) start from image moments, which scans
    covering different body ranges mislead by centimetres along the body axis. After stage
    1, the network's organs in the study and the exemplar's own labels give a start that does
    not depend on the field of view (:func:`organ_start`); affine and deformable stages then
    run as before. Working volumes (Z, S, S) as in :func:`cohort_bank`; ``network_lab`` is
    the network's label map of ``study``. Returns the exemplar's labels propagated onto the
    study (Z, S, S) uint8 (255 unknown), or None when no organ is shared or it fails.
    """
    reg = register or get_register()
    lab_xyz = np.ascontiguousarray(np.transpose(ex_lab, (1, 2, 0)))
    net_xyz = np.transpose(network_lab, (1, 2, 0))
    start = organ_start(net_xyz, lab_xyz, spacing, ex_spacing)
    if start is None:
        return None
    fixed = np.ascontiguousarray(np.transpose(study, (1, 2, 0)))
    try:
        res = reg(fixed, np.ascontiguousarray(np.transpose(ex_img, (1, 2, 0))), spacing,
                  ex_spacing, deformable=True, iterations=iterations,
                  coarse_spacing_mm=coarse_mm, affine_mode=affine_mode,
                  start_translation=tuple(float(t) for t in start))
        warped = np.asarray(res.warp(lab_xyz, order=0))
    except (RuntimeError, ValueError) as exc:
        log.warning("re-registration from the network's organs failed (%s)", exc)
        return None
    return np.ascontiguousarray(np.transpose(warped, (2, 0, 1))).astype(np.uint8)


def unknown_fraction(label: np.ndarray) -> float:
    """Share of voxels marked 255 (not annotated)."""
    return float((label == IGNORE).mean())
