"""Per-modality intensity normalisation and the in-plane working grid.

A study is processed slice by slice along its third voxel axis (the acquisition's slice
axis, never a reoriented one). In-plane, the two voxel axes are only permuted/flipped so that
they point roughly along +R/+A (a "canonical" in-plane order, consistent across subjects),
then resampled to a square ``size x size`` working grid of fixed physical pixel spacing,
centred on the body. :class:`WorkingGrid` does the forward and the exact inverse mapping,
so predictions land on exactly the input's grid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from elsnet_core.errors import InvalidInput

log = logging.getLogger(__name__)


def detect_modality(array: np.ndarray) -> str:
    """'CT' when the volume holds Hounsfield-like negatives (1st percentile < -50), else 'MR'."""
    sample = array.reshape(-1)[:: max(1, array.size // 200_000)]
    return "CT" if float(np.percentile(sample, 1.0)) < -50.0 else "MR"


def normalize_intensity(
    array: np.ndarray,
    modality: str,
    ct_window: tuple[float, float] = (-125.0, 275.0),
    mr_percentiles: tuple[float, float] = (0.5, 99.5),
) -> np.ndarray:
    """Map intensities to [0, 1]. array: (X, Y, Z) any dtype -> float32 same shape.

    CT: linear HU window ``ct_window`` clipped. MR: robust percentiles of the volume.
    """
    a = np.asarray(array, dtype=np.float32)
    if modality == "CT":
        lo, hi = ct_window
    elif modality == "MR":
        sample = a.reshape(-1)[:: max(1, a.size // 500_000)]
        lo, hi = (float(v) for v in np.percentile(sample, mr_percentiles))
        if hi - lo < 1e-6:
            hi = lo + 1.0
    else:
        raise InvalidInput(f"unknown modality {modality!r} (use CT or MR)")
    return np.clip((a - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def body_box(norm: np.ndarray, threshold: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """In-plane bounding box of the body. norm: (A, B, Z) in [0, 1].

    Returns (lo, hi) voxel indices along the two in-plane axes (inclusive, float).
    """
    mask = norm > threshold
    proj = mask.mean(axis=2) > 0.1
    proj = ndimage.binary_opening(proj, iterations=2)
    lab, n = ndimage.label(proj)
    if n == 0:
        return np.array([0.0, 0.0]), np.array(norm.shape[:2], dtype=float) - 1
    sizes = ndimage.sum(proj, lab, index=np.arange(1, n + 1))
    keep = lab == (int(np.argmax(sizes)) + 1)
    idx = np.argwhere(keep)
    return idx.min(axis=0).astype(float), idx.max(axis=0).astype(float)


@dataclass(frozen=True)
class Canon:
    """In-plane permutation/flips making voxel axes 0/1 point roughly along +R / +A."""

    transpose: bool
    flip0: bool
    flip1: bool

    @staticmethod
    def from_affine(affine: np.ndarray) -> Canon:
        r = np.asarray(affine, dtype=np.float64)[:3, :2]
        r = r / np.linalg.norm(r, axis=0, keepdims=True)
        dom = np.argmax(np.abs(r), axis=0)
        transpose = bool(dom[0] > dom[1]) or (dom[0] == dom[1] and abs(r[dom[0], 1]) > abs(r[dom[0], 0]))
        order = (1, 0) if transpose else (0, 1)
        flips = []
        for ax in order:
            d = int(np.argmax(np.abs(r[:, ax])))
            flips.append(bool(r[d, ax] < 0))
        return Canon(transpose, flips[0], flips[1])

    def forward(self, a: np.ndarray) -> np.ndarray:
        """(X, Y, ...) voxel array -> canonical (A, B, ...) view."""
        if self.transpose:
            a = np.swapaxes(a, 0, 1)
        if self.flip0:
            a = a[::-1]
        if self.flip1:
            a = a[:, ::-1]
        return a

    def inverse(self, a: np.ndarray) -> np.ndarray:
        """canonical (A, B, ...) -> original (X, Y, ...) voxel order."""
        if self.flip1:
            a = a[:, ::-1]
        if self.flip0:
            a = a[::-1]
        if self.transpose:
            a = np.swapaxes(a, 0, 1)
        return a


@dataclass(frozen=True)
class WorkingGrid:
    """Mapping between a study's grid (X, Y, Z) and the working grid (Z, size, size).

    Working pixel (i, j) of slice z samples canonical voxel
    ``(c0 + (i - (size-1)/2) * step0, c1 + (j - (size-1)/2) * step1, z)``.
    """

    shape: tuple[int, int, int]  # original (X, Y, Z)
    canon: Canon
    center: tuple[float, float]  # canonical voxel coords of the window centre
    step: tuple[float, float]  # canonical voxels per working pixel
    size: int
    pixel_mm: float

    @staticmethod
    def plan(affine: np.ndarray, shape: tuple[int, int, int], norm: np.ndarray, size: int,
             pixel_mm: float, offset_mm: tuple[float, float] = (0.0, 0.0)) -> WorkingGrid:
        """A size x size window of ``pixel_mm`` pixels on the body of ``norm`` (X, Y, Z).

        The window centre is the body centre plus ``offset_mm`` (canonical in-plane axes, mm),
        i.e. where the organs sat relative to the body in the exemplar.
        """
        canon = Canon.from_affine(affine)
        sp_c = _canon_spacing(affine, canon)
        lo, hi = body_box(canon.forward(norm))
        center = (float((lo[0] + hi[0]) / 2 + offset_mm[0] / sp_c[0]),
                  float((lo[1] + hi[1]) / 2 + offset_mm[1] / sp_c[1]))
        step = (pixel_mm / float(sp_c[0]), pixel_mm / float(sp_c[1]))
        return WorkingGrid(tuple(int(s) for s in shape), canon, center, step, size, pixel_mm)  # type: ignore[arg-type]

    def _canon_shape(self) -> tuple[int, int]:
        x, y, _ = self.shape
        return (y, x) if self.canon.transpose else (x, y)

    def _forward_grid(self) -> torch.Tensor:
        a_n, b_n = self._canon_shape()
        s = self.size
        k = torch.arange(s, dtype=torch.float64) - (s - 1) / 2
        a = self.center[0] + k * self.step[0]
        b = self.center[1] + k * self.step[1]
        ha = 2 * a / max(a_n - 1, 1) - 1
        wb = 2 * b / max(b_n - 1, 1) - 1
        grid = torch.stack(torch.meshgrid(wb, ha, indexing="xy"), dim=-1)  # (S, S, 2) [i, j]
        return grid.float()

    def _inverse_grid(self) -> torch.Tensor:
        a_n, b_n = self._canon_shape()
        s = self.size
        i = (torch.arange(a_n, dtype=torch.float64) - self.center[0]) / self.step[0] + (s - 1) / 2
        j = (torch.arange(b_n, dtype=torch.float64) - self.center[1]) / self.step[1] + (s - 1) / 2
        vi = 2 * i / (s - 1) - 1
        vj = 2 * j / (s - 1) - 1
        grid = torch.stack(torch.meshgrid(vj, vi, indexing="xy"), dim=-1)  # (A, B, 2)
        return grid.float()

    def to_working(self, array: np.ndarray, nearest: bool = False, fill: float = 0.0) -> np.ndarray:
        """(X, Y, Z) -> (Z, size, size) float32 (nearest for label maps; outside = fill)."""
        c = np.ascontiguousarray(self.canon.forward(array)).astype(np.float32)
        t = torch.from_numpy(c).permute(2, 0, 1)[:, None]  # (Z, 1, A, B)
        grid = self._forward_grid()[None].expand(t.shape[0], -1, -1, -1)
        mode = "nearest" if nearest else "bilinear"
        out = F.grid_sample(t - fill, grid, mode=mode, padding_mode="zeros", align_corners=True)
        return (out[:, 0] + fill).numpy()

    def probs_to_original(self, probs: torch.Tensor, chunk: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Working-grid probabilities -> original grid.

        probs: (Z, C, size, size) float, channel 0 = background.
        Returns labels (X, Y, Z) uint8 and the max probability (X, Y, Z) float32; voxels
        outside the working window are background with probability 1.
        """
        a_n, b_n = self._canon_shape()
        z_n = probs.shape[0]
        labels = np.zeros((a_n, b_n, z_n), dtype=np.uint8)
        conf = np.ones((a_n, b_n, z_n), dtype=np.float32)
        for z0, q in self._resampled(lambda a, b: probs[a:b].float(), z_n, chunk):
            q[:, 0] += (1.0 - q.sum(dim=1)).clamp_min(0.0)
            mx, am = q.max(dim=1)
            labels[:, :, z0 : z0 + chunk] = am.permute(1, 2, 0).numpy().astype(np.uint8)
            conf[:, :, z0 : z0 + chunk] = mx.permute(1, 2, 0).numpy()
        return (np.ascontiguousarray(self.canon.inverse(labels)),
                np.ascontiguousarray(self.canon.inverse(conf)))

    def labels_to_original(self, labels: np.ndarray, fill: int = 255, chunk: int = 8
                           ) -> np.ndarray:
        """A working-grid label map (Z, size, size) uint8 -> the original grid (X, Y, Z) uint8.

        Each value is resampled as its own indicator (bilinear) and every voxel takes the value
        of largest weight, so boundaries follow the working grid's resolution without the
        staircase of nearest-neighbour lookup. Voxels outside the working window get ``fill``.
        """
        values = np.unique(labels)
        lut = torch.from_numpy(values.astype(np.int64))
        a_n, b_n = self._canon_shape()
        z_n = labels.shape[0]
        out = np.full((a_n, b_n, z_n), fill, dtype=np.uint8)
        index = torch.from_numpy(np.searchsorted(values, labels).astype(np.int64))

        def onehot(a: int, b: int) -> torch.Tensor:
            return F.one_hot(index[a:b], len(values)).permute(0, 3, 1, 2).float()

        for z0, q in self._resampled(onehot, z_n, chunk):
            weight, arg = q.max(dim=1)
            lab = torch.where(weight > 0.25, lut[arg], torch.tensor(fill))
            out[:, :, z0 : z0 + chunk] = lab.permute(1, 2, 0).numpy().astype(np.uint8)
        return np.ascontiguousarray(self.canon.inverse(out))

    def _resampled(self, channels: Callable[[int, int], torch.Tensor], z_n: int, chunk: int
                   ) -> Iterator[tuple[int, torch.Tensor]]:
        """(z0, working-grid channels of slices z0..z0+chunk bilinearly resampled onto the
        canonical original grid (n, C, A, B); zero outside the working window), chunk by chunk
        so a long study never holds all its channels at the original resolution at once."""
        base = self._inverse_grid()[None]
        for z0 in range(0, z_n, chunk):
            p = channels(z0, z0 + chunk)
            grid = base.expand(p.shape[0], -1, -1, -1)
            yield z0, F.grid_sample(p, grid, mode="bilinear", padding_mode="zeros",
                                    align_corners=True)

    def working_spacing(self, z_mm: float) -> tuple[float, float, float]:
        """Spacing in mm of the working volume axes (i, j, z)."""
        return (self.pixel_mm, self.pixel_mm, z_mm)


def _canon_spacing(affine: np.ndarray, canon: Canon) -> tuple[float, float]:
    sp = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
    return (float(sp[1]), float(sp[0])) if canon.transpose else (float(sp[0]), float(sp[1]))


def plan_field_of_view(norm: np.ndarray, label: np.ndarray, affine: np.ndarray, size: int,
                       margin: float, organ_factor: float = 2.2
                       ) -> tuple[float, tuple[float, float]]:
    """Working pixel size (mm) and window offset (mm) from the exemplar.

    norm: (X, Y, Z) image in [0, 1]; label: (X, Y, Z) uint8 (255 = unknown). The field of
    view is the body extent x ``margin``, narrowed to ``organ_factor`` x the annotated organs'
    extent when they are small against the body (e.g. the heart in a chest MR), never below
    half the body extent. The offset is organ-box centre minus body-box centre, in mm.
    """
    canon = Canon.from_affine(affine)
    sp_c = np.array(_canon_spacing(affine, canon))
    lo, hi = body_box(canon.forward(norm))
    body_mm = (hi - lo + 1) * sp_c
    fov = float(body_mm.max() * margin)
    organ = canon.forward((label > 0) & (label != 255)).any(axis=2)
    offset = (0.0, 0.0)
    if organ.any():
        idx = np.argwhere(organ)
        o_lo, o_hi = idx.min(axis=0), idx.max(axis=0)
        organ_mm = (o_hi - o_lo + 1) * sp_c
        narrow = max(float(organ_mm.max() * organ_factor), float(body_mm.max() * 0.5))
        if narrow < fov:
            fov = narrow
            off = ((o_lo + o_hi) / 2 - (lo + hi) / 2) * sp_c
            offset = (float(off[0]), float(off[1]))
    return fov / size, offset
