"""Per-modality intensity normalisation and the in-plane working grid.

A study is processed slice by slice along its third voxel axis (the acquisition's slice
axis, never a reoriented one). In-plane, each slice is resampled to a square ``size x size``
working grid of fixed physical pixel spacing, centred on the body, whose axes follow the
patient's +R/+A directions projected onto the slice plane (:class:`InPlaneFrame`), so that
working images of different subjects are consistent even for oblique stacks. :class:`WorkingGrid` does the forward and the exact inverse mapping,
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


def body_mask(norm: np.ndarray, threshold: float = 0.05) -> np.ndarray | None:
    """In-plane footprint of the body: (X, Y) bool, the largest region where at least 10 % of
    the slices are above ``threshold``; None when there is none. norm: (X, Y, Z) in [0, 1]."""
    mask = norm > threshold
    proj = mask.mean(axis=2) > 0.1
    proj = ndimage.binary_opening(proj, iterations=2)
    lab, n = ndimage.label(proj)
    if n == 0:
        return None
    sizes = ndimage.sum(proj, lab, index=np.arange(1, n + 1))
    return np.asarray(lab == (int(np.argmax(sizes)) + 1))


@dataclass(frozen=True)
class InPlaneFrame:
    """The working grid's in-plane axes (u, v) in a study's slice plane, from its affine.

    u is the patient's +R direction projected onto the slice plane (+A when the plane is
    nearly sagittal, |projection| < 0.5); v is the in-plane perpendicular pointing towards
    +A / +S (positive on A + S). Both depend continuously on the plane's orientation, so
    oblique stacks whose planes differ a little between subjects (cardiac short axis) get
    working images that differ a little, never a mirrored or 90-degree-turned one; axial,
    coronal and sagittal stacks get the usual +R/+A, +R/+S, +A/+S views.

    ``vox_per_mm``: 2x2 row-major, voxel offsets (x, y) for a 1 mm step along u (first
    column) and v (second column).
    """

    vox_per_mm: tuple[float, float, float, float]

    @staticmethod
    def from_affine(affine: np.ndarray) -> InPlaneFrame:
        cols = np.asarray(affine, dtype=np.float64)[:3, :2]  # mm per voxel step along x, y
        spacing = np.linalg.norm(cols, axis=0)
        if not (np.all(spacing > 0) and np.all(np.isfinite(cols))):
            raise InvalidInput("the image affine has a zero or invalid in-plane voxel size")
        units = cols / spacing
        normal = np.cross(units[:, 0], units[:, 1])
        if np.linalg.norm(normal) < 1e-6:
            raise InvalidInput("the image affine's two in-plane axes are parallel")
        normal /= np.linalg.norm(normal)

        def project(w: np.ndarray) -> np.ndarray:
            return w - float(w @ normal) * normal

        r, a, s = np.eye(3)
        u = project(r)
        if np.linalg.norm(u) < 0.5:
            u = project(a)
        u /= np.linalg.norm(u)
        v = np.cross(normal, u)
        if float(v @ (a + s)) < 0:
            v = -v
        # voxel offsets for mm steps along u and v: least squares of cols @ d = direction
        vox = np.linalg.lstsq(cols, np.stack([u, v], axis=1), rcond=None)[0]
        return InPlaneFrame(tuple(float(x) for x in vox.reshape(-1)))  # type: ignore[arg-type]

    @property
    def matrix(self) -> np.ndarray:
        """(2, 2): voxel offset = matrix @ (mm along u, mm along v)."""
        return np.array(self.vox_per_mm, dtype=np.float64).reshape(2, 2)

    def mm_to_voxels(self, uv: np.ndarray) -> np.ndarray:
        """(2,) offset in mm along (u, v) -> (2,) voxel offset along (x, y)."""
        return self.matrix @ np.asarray(uv, dtype=np.float64)

    def voxels_to_mm(self, xy: np.ndarray) -> np.ndarray:
        """(2,) voxel offset along (x, y) -> (2,) offset in mm along (u, v)."""
        return np.linalg.solve(self.matrix, np.asarray(xy, dtype=np.float64))


def _voxel_box(mask: np.ndarray | None, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) voxel indices (inclusive, float) of a 2D mask; the whole slice if None."""
    if mask is None or not mask.any():
        return np.array([0.0, 0.0]), np.array(shape[:2], dtype=float) - 1
    idx = np.argwhere(mask)
    return idx.min(axis=0).astype(float), idx.max(axis=0).astype(float)


def _in_plane_spacing(affine: np.ndarray) -> np.ndarray:
    return np.sqrt((np.asarray(affine, dtype=np.float64)[:3, :2] ** 2).sum(axis=0))


@dataclass(frozen=True)
class WorkingGrid:
    """Mapping between a study's grid (X, Y, Z) and the working grid (Z, size, size).

    Working pixel (i, j) of slice z samples the study at voxel
    ``center + frame.matrix @ ((i - (size-1)/2) * pixel_mm, (j - (size-1)/2) * pixel_mm)``,
    slice z: rows run along the frame's u axis, columns along v (see :class:`InPlaneFrame`).
    """

    shape: tuple[int, int, int]  # original (X, Y, Z)
    frame: InPlaneFrame
    center: tuple[float, float]  # voxel coords (x, y) of the window centre
    size: int
    pixel_mm: float

    @staticmethod
    def plan(affine: np.ndarray, shape: tuple[int, int, int], norm: np.ndarray, size: int,
             pixel_mm: float, offset_mm: tuple[float, float] = (0.0, 0.0)) -> WorkingGrid:
        """A size x size window of ``pixel_mm`` pixels on the body of ``norm`` (X, Y, Z).

        The window centre is the centre of the body's box (along the voxel axes, i.e. the
        field of view's own axes) plus ``offset_mm`` (mm along the working axes u, v), i.e.
        where the organs sat relative to the body in the exemplar.
        """
        frame = InPlaneFrame.from_affine(affine)
        lo, hi = _voxel_box(body_mask(norm), shape)
        centre = (lo + hi) / 2 + frame.mm_to_voxels(np.asarray(offset_mm, dtype=np.float64))
        return WorkingGrid(tuple(int(s) for s in shape), frame,  # type: ignore[arg-type]
                           (float(centre[0]), float(centre[1])), size, pixel_mm)

    def _offsets(self) -> np.ndarray:
        """(size,) working pixel offsets from the window centre, in mm."""
        return (np.arange(self.size, dtype=np.float64) - (self.size - 1) / 2) * self.pixel_mm

    def _forward_grid(self) -> torch.Tensor:
        """(S, S, 2) grid_sample coordinates in the (X, Y) slice of every working pixel."""
        x_n, y_n = self.shape[0], self.shape[1]
        k = self._offsets()
        ku, kv = np.meshgrid(k, k, indexing="ij")  # (S, S): row i -> u, column j -> v
        m = self.frame.matrix
        x = self.center[0] + m[0, 0] * ku + m[0, 1] * kv
        y = self.center[1] + m[1, 0] * ku + m[1, 1] * kv
        gx = 2 * y / max(y_n - 1, 1) - 1  # grid_sample: last coordinate indexes height
        gy = 2 * x / max(x_n - 1, 1) - 1
        return torch.from_numpy(np.stack([gx, gy], axis=-1)).float()

    def _inverse_grid(self) -> torch.Tensor:
        """(X, Y, 2) grid_sample coordinates in the working slice of every study voxel."""
        x_n, y_n = self.shape[0], self.shape[1]
        xs, ys = np.meshgrid(np.arange(x_n, dtype=np.float64), np.arange(y_n, dtype=np.float64),
                             indexing="ij")
        inv = np.linalg.inv(self.frame.matrix)
        dx, dy = xs - self.center[0], ys - self.center[1]
        s = self.size
        i = (inv[0, 0] * dx + inv[0, 1] * dy) / self.pixel_mm + (s - 1) / 2
        j = (inv[1, 0] * dx + inv[1, 1] * dy) / self.pixel_mm + (s - 1) / 2
        vi = 2 * i / (s - 1) - 1
        vj = 2 * j / (s - 1) - 1
        return torch.from_numpy(np.stack([vj, vi], axis=-1)).float()

    def to_working(self, array: np.ndarray, nearest: bool = False, fill: float = 0.0) -> np.ndarray:
        """(X, Y, Z) -> (Z, size, size) float32 (nearest for label maps; outside = fill)."""
        c = np.ascontiguousarray(array).astype(np.float32)
        t = torch.from_numpy(c).permute(2, 0, 1)[:, None]  # (Z, 1, X, Y)
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
        x_n, y_n = self.shape[0], self.shape[1]
        z_n = probs.shape[0]
        labels = np.zeros((x_n, y_n, z_n), dtype=np.uint8)
        conf = np.ones((x_n, y_n, z_n), dtype=np.float32)
        for z0, q in self._resampled(lambda a, b: probs[a:b].float(), z_n, chunk):
            q[:, 0] += (1.0 - q.sum(dim=1)).clamp_min(0.0)
            mx, am = q.max(dim=1)
            labels[:, :, z0 : z0 + chunk] = am.permute(1, 2, 0).numpy().astype(np.uint8)
            conf[:, :, z0 : z0 + chunk] = mx.permute(1, 2, 0).numpy()
        return labels, conf

    def labels_to_original(self, labels: np.ndarray, fill: int = 255, chunk: int = 8
                           ) -> np.ndarray:
        """A working-grid label map (Z, size, size) uint8 -> the original grid (X, Y, Z) uint8.

        Each value is resampled as its own indicator (bilinear) and every voxel takes the value
        of largest weight, so boundaries follow the working grid's resolution without the
        staircase of nearest-neighbour lookup. Voxels outside the working window get ``fill``.
        """
        values = np.unique(labels)
        lut = torch.from_numpy(values.astype(np.int64))
        x_n, y_n = self.shape[0], self.shape[1]
        z_n = labels.shape[0]
        out = np.full((x_n, y_n, z_n), fill, dtype=np.uint8)
        index = torch.from_numpy(np.searchsorted(values, labels).astype(np.int64))

        def onehot(a: int, b: int) -> torch.Tensor:
            return F.one_hot(index[a:b], len(values)).permute(0, 3, 1, 2).float()

        for z0, q in self._resampled(onehot, z_n, chunk):
            weight, arg = q.max(dim=1)
            lab = torch.where(weight > 0.25, lut[arg], torch.tensor(fill))
            out[:, :, z0 : z0 + chunk] = lab.permute(1, 2, 0).numpy().astype(np.uint8)
        return out

    def _resampled(self, channels: Callable[[int, int], torch.Tensor], z_n: int, chunk: int
                   ) -> Iterator[tuple[int, torch.Tensor]]:
        """(z0, working-grid channels of slices z0..z0+chunk bilinearly resampled onto the
        original grid (n, C, X, Y); zero outside the working window), chunk by chunk
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


def plan_field_of_view(norm: np.ndarray, label: np.ndarray, affine: np.ndarray, size: int,
                       margin: float, organ_factor: float = 2.2
                       ) -> tuple[float, tuple[float, float]]:
    """Working pixel size (mm) and window offset (mm) from the exemplar.

    norm: (X, Y, Z) image in [0, 1]; label: (X, Y, Z) uint8 (255 = unknown). The field of
    view is the body extent x ``margin``, narrowed to ``organ_factor`` x the annotated organs'
    extent when they are small against the body (e.g. the heart in a chest MR), never below
    half the body extent. Boxes and extents are measured along the voxel axes (the field of
    view's own); the offset, organ-box centre minus body-box centre, is returned in mm along
    the working axes (u, v) of :class:`InPlaneFrame`, so it follows the anatomy whatever the
    voxel order.
    """
    frame = InPlaneFrame.from_affine(affine)
    sp = _in_plane_spacing(affine)
    lo, hi = _voxel_box(body_mask(norm), norm.shape)
    body_mm = (hi - lo + 1) * sp
    fov = float(body_mm.max() * margin)
    organ = ((label > 0) & (label != 255)).any(axis=2)
    offset = (0.0, 0.0)
    if organ.any():
        o_lo, o_hi = _voxel_box(organ, norm.shape)
        organ_mm = (o_hi - o_lo + 1) * sp
        narrow = max(float(organ_mm.max() * organ_factor), float(body_mm.max() * 0.5))
        if narrow < fov:
            fov = narrow
            off = frame.voxels_to_mm((o_lo + o_hi) / 2 - (lo + hi) / 2)
            offset = (float(off[0]), float(off[1]))
    return fov / size, offset
