"""Pairwise 3D registration (affine + deformable) for atlas propagation and synthesis.

Conventions
-----------
* Arrays are in nibabel voxel order ``(X, Y, Z)`` (the third axis is the slice axis).
* Each volume is treated as an image in its *own* voxel-index space scaled by its spacing:
  origin 0, identity direction, physical point of voxel ``(i, j, k)`` is
  ``(i * sx, j * sy, k * sz)`` in mm. The volumes of a cohort are not co-registered, so the
  scanner affine is deliberately ignored; the affine stage is initialised by matching the
  intensity moments (centres of mass and principal axes) of the two volumes.
* ``register(fixed, moving, ...)`` returns a transform that maps a physical point ``p`` of
  the *fixed* grid to the point ``T(p)`` of the *moving* image (the usual "pull-back" ITK
  convention), so ``warp(moving)`` resamples the moving volume onto the fixed grid.

Pipeline (measured on the dev packs, see ``docs/benchmarks.md``):

1. robust intensity normalisation per volume (0.5 / 99.5 percentiles -> [0, 1]);
2. both volumes smoothed and resampled to a coarse working grid (``coarse_spacing_mm``
   in-plane, never finer than the native spacing);
3. moments initialisation (plus the best of a few shifts along the slice axis, for scans
   covering different body ranges; or a given start translation) -> similarity -> affine,
   Mattes MI, two levels;
4. histogram matching of the affinely aligned moving volume to the fixed one, then
   (optionally) diffeomorphic demons on the coarse grid, the field smoothed by a Gaussian.

Everything runs on the CPU with SimpleITK; no torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

logger = logging.getLogger(__name__)

__all__ = ["RegistrationResult", "normalise_intensity", "register"]

#: label value meaning "not annotated"; survives nearest-neighbour label warps.
NOT_ANNOTATED = 255
_SAMPLING = 0.1


def normalise_intensity(
    volume: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5
) -> np.ndarray:
    """Map a volume robustly to [0, 1] by its percentiles.

    Args:
        volume: ``(X, Y, Z)`` array of any real dtype (HU for CT, arbitrary units for MR).
        low_pct, high_pct: percentiles mapped to 0 and 1; values outside are clipped.

    Returns:
        ``(X, Y, Z)`` float32 array in [0, 1]. A constant volume maps to zeros.
    """
    v = np.asarray(volume, dtype=np.float32)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return np.zeros_like(v, dtype=np.float32)
    lo, hi = np.percentile(finite, [low_pct, high_pct])
    if not hi > lo:
        return np.zeros_like(v, dtype=np.float32)
    out = (np.nan_to_num(v, nan=float(lo)) - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _to_sitk(array: np.ndarray, spacing: Sequence[float]) -> sitk.Image:
    """``(X, Y, Z)`` numpy array -> SimpleITK image with origin 0 and identity direction."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array, (2, 1, 0))))
    img.SetSpacing(tuple(float(s) for s in spacing))
    img.SetOrigin((0.0, 0.0, 0.0))
    return img


def _from_sitk(image: sitk.Image) -> np.ndarray:
    """SimpleITK image -> numpy array in ``(X, Y, Z)`` (vector images: ``(X, Y, Z, C)``)."""
    arr = sitk.GetArrayFromImage(image)
    if arr.ndim == 4:
        return np.ascontiguousarray(np.transpose(arr, (2, 1, 0, 3)))
    return np.ascontiguousarray(np.transpose(arr, (2, 1, 0)))


def _coarse(image: sitk.Image, target_mm: float) -> sitk.Image:
    """Smooth and resample ``image`` to spacing ``max(native, target_mm)`` per axis.

    The coarse grid covers the same physical extent (origin 0 stays at voxel 0's centre).
    """
    spacing = np.array(image.GetSpacing(), dtype=float)
    size = np.array(image.GetSize(), dtype=float)
    new_spacing = np.maximum(spacing, target_mm)
    if np.allclose(new_spacing, spacing):
        return image
    new_size = np.maximum(np.round(size * spacing / new_spacing), 1).astype(int)
    # anti-aliasing: sigma (mm) ~ half the decimation step, per axis, 0 where not decimated
    sigma = [float(max(0.0, 0.5 * (n - s))) for n, s in zip(new_spacing, spacing, strict=True)]
    src = image
    if max(sigma) > 0:
        src = sitk.SmoothingRecursiveGaussian(image, [max(s, 1e-3) for s in sigma])
    return sitk.Resample(
        src,
        [int(n) for n in new_size],
        sitk.Transform(),
        sitk.sitkLinear,
        image.GetOrigin(),
        [float(s) for s in new_spacing],
        image.GetDirection(),
        0.0,
        image.GetPixelID(),
    )


@dataclass
class RegistrationResult:
    """Outcome of :func:`register`: a fixed -> moving point mapping plus its geometry.

    Attributes:
        fixed_shape: ``(X, Y, Z)`` shape of the fixed volume (the output grid of ``warp``).
        fixed_spacing: fixed voxel spacing in mm, ``(sx, sy, sz)``.
        moving_shape: ``(X, Y, Z)`` shape of the moving volume.
        moving_spacing: moving voxel spacing in mm.
        affine: the affine stage, an ``sitk.AffineTransform`` (fixed point -> moving point).
        deformable_field: the deformable stage as a SimpleITK vector image on the coarse
            fixed grid (displacement in mm, applied *before* ``affine``), or None.
        metric_value: final value of the affine similarity metric (Mattes MI, lower is better).
        seconds: wall time of the registration.
    """

    fixed_shape: tuple[int, int, int]
    fixed_spacing: tuple[float, float, float]
    moving_shape: tuple[int, int, int]
    moving_spacing: tuple[float, float, float]
    affine: sitk.AffineTransform
    deformable_field: sitk.Image | None = None
    metric_value: float = float("nan")
    seconds: float = 0.0
    _displacement_cache: dict[float, np.ndarray] = field(default_factory=dict, repr=False)

    # ---- transforms -------------------------------------------------------------------
    @property
    def affine_matrix(self) -> np.ndarray:
        """``(4, 4)`` homogeneous matrix mapping fixed mm coordinates to moving mm coordinates."""
        a = np.array(self.affine.GetMatrix(), dtype=float).reshape(3, 3)
        c = np.array(self.affine.GetCenter(), dtype=float)
        t = np.array(self.affine.GetTranslation(), dtype=float)
        m = np.eye(4)
        m[:3, :3] = a
        m[:3, 3] = t + c - a @ c
        return m

    def transform(self, scale: float = 1.0) -> sitk.Transform:
        """The full fixed -> moving transform, deformable part multiplied by ``scale``.

        ``scale=0`` gives the affine stage alone, ``1`` the registration result; values in
        between (or slightly beyond) interpolate / extrapolate the real deformation.
        """
        comp = sitk.CompositeTransform(3)
        comp.AddTransform(sitk.AffineTransform(self.affine))
        if self.deformable_field is not None and scale != 0.0:
            fld = self.deformable_field
            if scale != 1.0:
                fld = sitk.Compose(
                    [sitk.VectorIndexSelectionCast(fld, i) * float(scale) for i in range(3)]
                )
            fld = sitk.Cast(fld, sitk.sitkVectorFloat64)
            # added last -> applied first: p -> affine(p + d(p))
            comp.AddTransform(sitk.DisplacementFieldTransform(fld))
        return comp

    def _fixed_reference(self) -> sitk.Image:
        ref = sitk.Image([int(s) for s in self.fixed_shape], sitk.sitkUInt8)
        ref.SetSpacing(self.fixed_spacing)
        return ref

    # ---- application --------------------------------------------------------------------
    def warp(
        self,
        moving_array: np.ndarray,
        order: int = 1,
        *,
        scale: float = 1.0,
        fill_value: float = 0.0,
    ) -> np.ndarray:
        """Resample a volume on the moving grid onto the fixed grid.

        Args:
            moving_array: ``(X, Y, Z)`` array with the moving volume's shape (image or label).
            order: 1 = trilinear (images), 0 = nearest neighbour (label maps: only values
                present in the input can appear, incl. 255 = not annotated), 3 = B-spline.
            scale: multiplier of the deformable part (0 = affine only).
            fill_value: value for fixed voxels that map outside the moving volume.

        Returns:
            ``(X, Y, Z)`` array with ``fixed_shape``; dtype of the input for ``order=0``,
            float32 otherwise.
        """
        moving_array = np.asarray(moving_array)
        if tuple(moving_array.shape) != tuple(self.moving_shape):
            raise ValueError(
                f"moving array shape {moving_array.shape} != registered moving shape "
                f"{self.moving_shape}"
            )
        interp = {0: sitk.sitkNearestNeighbor, 1: sitk.sitkLinear, 3: sitk.sitkBSpline}.get(order)
        if interp is None:
            raise ValueError(f"order must be 0, 1 or 3, got {order}")
        src = moving_array if order == 0 else moving_array.astype(np.float32, copy=False)
        if src.dtype == np.bool_:
            src = src.astype(np.uint8)
        mov = _to_sitk(src, self.moving_spacing)
        out = sitk.Resample(
            mov,
            self._fixed_reference(),
            self.transform(scale),
            interp,
            float(fill_value),
            mov.GetPixelID(),
        )
        res = _from_sitk(out)
        if order == 0:
            return res.astype(moving_array.dtype, copy=False)
        return res.astype(np.float32, copy=False)

    def warp_label(
        self, label: np.ndarray, *, scale: float = 1.0, fill_value: int = 0
    ) -> np.ndarray:
        """Nearest-neighbour warp of a uint8 label map ``(X, Y, Z)`` onto the fixed grid."""
        return self.warp(
            np.asarray(label, dtype=np.uint8), order=0, scale=scale, fill_value=fill_value
        )

    def displacement_at(self, scale: float = 1.0) -> np.ndarray:
        """Total displacement on the full-resolution fixed grid.

        Returns:
            ``(X, Y, Z, 3)`` float32, in mm: fixed voxel ``(i, j, k)`` at physical point
            ``p = (i*sx, j*sy, k*sz)`` maps to the moving physical point ``p + u``
            (moving voxel index ``(p + u) / moving_spacing``). Includes the affine part;
            the deformable part is multiplied by ``scale``.
        """
        key = float(scale)
        if key not in self._displacement_cache:
            fld = sitk.TransformToDisplacementField(
                self.transform(scale),
                sitk.sitkVectorFloat64,
                [int(s) for s in self.fixed_shape],
                (0.0, 0.0, 0.0),
                self.fixed_spacing,
            )
            self._displacement_cache[key] = _from_sitk(fld).astype(np.float32)
        return self._displacement_cache[key]

    @property
    def displacement(self) -> np.ndarray:
        """``(X, Y, Z, 3)`` mm: total (affine + deformable) displacement, see ``displacement_at``."""
        return self.displacement_at(1.0)

    @property
    def deformable_displacement(self) -> np.ndarray:
        """``(X, Y, Z, 3)`` mm: deformable part only (``displacement - affine-only displacement``).

        It lives on the fixed grid, so it can be added to, scaled or interpolated with the
        deformable parts of other registrations *to the same fixed volume*.
        """
        if self.deformable_field is None:
            return np.zeros((*self.fixed_shape, 3), dtype=np.float32)
        return self.displacement_at(1.0) - self.displacement_at(0.0)


def _sitk_seed(seed: int) -> int:
    """SimpleITK's sampling seed for our ``seed``.

    SimpleITK reads a seed of 0 as ``sitkWallClock`` (a new random draw on every call), so
    ``seed=0`` used to make every registration a different one. Shift by one so that every
    seed, 0 included, names one fixed sampling.
    """
    if seed < 0:
        raise ValueError(f"registration seed must be >= 0, got {seed}")
    return int(seed) + 1


def _best_slice_axis_start(fixed: sitk.Image, moving: sitk.Image, seed: int) -> sitk.Transform:
    """Moments initialisation, then the best of several shifts along the slice axis.

    Scans of the same anatomy often cover different ranges along the body axis (one CT
    stops at the diaphragm, another includes the chest): their centres of mass then differ
    by several centimetres along z and a local optimiser does not recover (seen on
    ``synapse_ct`` case_02, ~60 mm off). Shifts of up to +-30 % of the shorter extent are
    scored by Mattes MI on the coarse grid and the best start is kept; the moments start
    wins ties, so well-matched pairs are unchanged.
    """
    init = sitk.CenteredTransformInitializer(
        fixed,
        moving,
        sitk.Similarity3DTransform(),
        sitk.CenteredTransformInitializerFilter.MOMENTS,
    )
    ext_f = fixed.GetSize()[2] * fixed.GetSpacing()[2]
    ext_m = moving.GetSize()[2] * moving.GetSpacing()[2]
    span = 0.3 * min(ext_f, ext_m)
    if span < 2 * max(fixed.GetSpacing()[2], moving.GetSpacing()[2]):
        return init  # thin stacks (a few slices): nothing to search
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.2, _sitk_seed(seed))
    reg.SetInterpolator(sitk.sitkLinear)
    base = sitk.Similarity3DTransform(init)
    best, best_val = base, np.inf
    for frac in (0.0, -1 / 3, 1 / 3, -2 / 3, 2 / 3, -1.0, 1.0):
        cand = sitk.Similarity3DTransform(base)
        tx, ty, tz = cand.GetTranslation()
        cand.SetTranslation((tx, ty, tz + frac * span))
        reg.SetInitialTransform(cand, inPlace=False)
        try:
            val = float(reg.MetricEvaluate(fixed, moving))
        except RuntimeError:  # too little overlap to score
            continue
        if val < best_val - 1e-3:  # lower Mattes MI value = better
            best, best_val = cand, val
    return best


AFFINE_MODES = ("affine", "similarity", "guarded")
_GUARD_RATIO = 1.25


def _scales(matrix: Sequence[float]) -> np.ndarray:
    """Singular values (scale factors) of a 3x3 matrix given row-major."""
    return np.linalg.svd(np.asarray(matrix, dtype=float).reshape(3, 3), compute_uv=False)


def _translation_start(fixed: sitk.Image, translation: Sequence[float]) -> sitk.Transform:
    """A similarity transform centred on the fixed image that only shifts by ``translation``
    (mm, fixed point -> moving point)."""
    tr = sitk.Similarity3DTransform()
    size = np.array(fixed.GetSize(), dtype=float)
    tr.SetCenter(tuple(float(c) for c in np.array(fixed.GetSpacing()) * (size - 1) / 2))
    tr.SetTranslation(tuple(float(t) for t in translation))
    return tr


def _affine_stage(
    fixed: sitk.Image, moving: sitk.Image, iterations: int, seed: int, mode: str = "affine",
    start: Sequence[float] | None = None,
) -> tuple[sitk.AffineTransform, float]:
    """Moments-initialised similarity then affine registration (Mattes MI, 2 levels).

    ``mode``: "affine" keeps the affine result; "similarity" stops after the similarity stage
    (one isotropic scale); "guarded" keeps the affine unless its scales differ from each other
    or from the similarity's scale by more than 1.25x, then falls back to the similarity. On
    partial slabs (CHAOS) the unguarded affine stretches the exemplar along z (see
    docs/benchmarks.md, session 9).
    """
    init = (_translation_start(fixed, start) if start is not None
            else _best_slice_axis_start(fixed, moving, seed))

    def run(initial: sitk.Transform, scales_from_shift: bool) -> tuple[sitk.Transform, float]:
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
        reg.SetMetricSamplingStrategy(reg.RANDOM)
        reg.SetMetricSamplingPercentage(_SAMPLING, _sitk_seed(seed))
        reg.SetInterpolator(sitk.sitkLinear)
        reg.SetOptimizerAsRegularStepGradientDescent(
            learningRate=1.0,
            minStep=1e-4,
            numberOfIterations=iterations,
            relaxationFactor=0.6,
            gradientMagnitudeTolerance=1e-6,
        )
        if scales_from_shift:
            reg.SetOptimizerScalesFromPhysicalShift()
        reg.SetShrinkFactorsPerLevel([2, 1])
        reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
        reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
        reg.SetInitialTransform(initial, inPlace=False)
        out = reg.Execute(fixed, moving)
        return out, float(reg.GetMetricValue())

    sim, sim_metric = run(init, True)
    if isinstance(sim, sitk.CompositeTransform):
        sim = sim.GetNthTransform(0)
    sim = sitk.Similarity3DTransform(sim)
    aff = sitk.AffineTransform(3)
    aff.SetCenter(sim.GetCenter())
    aff.SetMatrix(sim.GetMatrix())
    aff.SetTranslation(sim.GetTranslation())
    if mode == "similarity":
        return aff, sim_metric
    out, metric = run(aff, True)
    if isinstance(out, sitk.CompositeTransform):
        out = out.GetNthTransform(0)
    out = sitk.AffineTransform(out)
    if mode == "guarded":
        sv, ss = _scales(out.GetMatrix()), float(_scales(sim.GetMatrix())[0])
        if max(sv.max() / sv.min(), sv.max() / ss, ss / sv.min()) > _GUARD_RATIO:
            return aff, sim_metric
    return out, metric


def register(
    fixed: np.ndarray,
    moving: np.ndarray,
    fixed_spacing: Sequence[float],
    moving_spacing: Sequence[float],
    *,
    deformable: bool = True,
    iterations: int = 40,
    affine_iterations: int = 50,
    coarse_spacing_mm: float = 4.0,
    smoothing_mm: float = 6.0,
    normalise: bool = True,
    threads: int | None = None,
    seed: int = 0,
    affine_mode: str = "affine",
    start_translation: Sequence[float] | None = None,
) -> RegistrationResult:
    """Register ``moving`` onto ``fixed``: moments init -> similarity -> affine -> demons.

    Args:
        fixed: ``(X, Y, Z)`` float32 volume that defines the output grid.
        moving: ``(X, Y, Z)`` float32 volume to be aligned (e.g. the exemplar).
        fixed_spacing, moving_spacing: ``(sx, sy, sz)`` in mm.
        deformable: run the diffeomorphic demons stage after the affine stage.
        iterations: demons iterations (per level; two levels, the coarse one at 2x spacing).
        affine_iterations: optimiser iterations per level of the affine stages.
        coarse_spacing_mm: working spacing of the whole registration; axes already coarser
            (e.g. 7.7 mm MR slices) keep their native spacing.
        smoothing_mm: Gaussian standard deviation (mm) regularising the demons field.
        normalise: robust percentile normalisation of both volumes first (set False only
            for volumes already on a common [0, 1] scale).
        threads: SimpleITK threads for this call (None = keep the global default).
        affine_mode: "affine" (default), "similarity" (no anisotropic scaling or shear) or
            "guarded" (affine unless it scales > 1.25x apart from the similarity); see
            ``_affine_stage``.
        start_translation: start the affine stage from this shift (mm, fixed point ->
            moving point, e.g. from organ centres found in both images) instead of the
            moments start and its search along the slice axis.
        seed: seed of the metric sampling: the same seed gives the same result (checked at
            2 threads by tests/core/test_registration.py; 1 and 2 threads gave identical
            fields on a CHAOS pair).

    Returns:
        A :class:`RegistrationResult` mapping fixed points to moving points.
    """
    t0 = time.perf_counter()
    fixed = np.asarray(fixed)
    moving = np.asarray(moving)
    if fixed.ndim != 3 or moving.ndim != 3:
        raise ValueError(f"expected 3D (X, Y, Z) volumes, got {fixed.shape} and {moving.shape}")
    if len(fixed_spacing) != 3 or len(moving_spacing) != 3:
        raise ValueError("spacings must have 3 entries (sx, sy, sz) in mm")
    if affine_mode not in AFFINE_MODES:
        raise ValueError(f"affine_mode must be one of {AFFINE_MODES}, got {affine_mode!r}")
    prev_threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    if threads is not None:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(threads))
    try:
        f_arr = normalise_intensity(fixed) if normalise else fixed.astype(np.float32)
        m_arr = normalise_intensity(moving) if normalise else moving.astype(np.float32)
        f_img = _coarse(_to_sitk(f_arr, fixed_spacing), coarse_spacing_mm)
        m_img = _coarse(_to_sitk(m_arr, moving_spacing), coarse_spacing_mm)

        # With more than one thread, ITK's Mattes MI registration gave a different affine on
        # every call (same inputs, same seed; up to ~45 mm apart on a CHAOS pair at 2
        # threads); with one thread it is bit-identical. The stage runs on the coarse grid
        # (about +0.15 s per CHAOS pair on 2 cores), so it always runs single-threaded.
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
        try:
            affine, metric = _affine_stage(f_img, m_img, affine_iterations, seed, affine_mode,
                                           start_translation)
        finally:
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(
                int(threads) if threads is not None else prev_threads
            )
        field_img: sitk.Image | None = None
        if deformable:
            field_img = _demons_stage(f_img, m_img, affine, iterations, smoothing_mm)
    finally:
        if threads is not None:
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(prev_threads)
    seconds = time.perf_counter() - t0
    logger.debug(
        "registration %s -> %s took %.2fs (metric %.4f)", moving.shape, fixed.shape, seconds, metric
    )
    return RegistrationResult(
        fixed_shape=tuple(int(s) for s in fixed.shape),  # type: ignore[arg-type]
        fixed_spacing=tuple(float(s) for s in fixed_spacing),  # type: ignore[arg-type]
        moving_shape=tuple(int(s) for s in moving.shape),  # type: ignore[arg-type]
        moving_spacing=tuple(float(s) for s in moving_spacing),  # type: ignore[arg-type]
        affine=affine,
        deformable_field=field_img,
        metric_value=metric,
        seconds=seconds,
    )


def _demons_stage(
    fixed: sitk.Image,
    moving: sitk.Image,
    affine: sitk.AffineTransform,
    iterations: int,
    smoothing_mm: float,
) -> sitk.Image:
    """Diffeomorphic demons between ``fixed`` and the affinely resampled ``moving``.

    Two levels (2x coarser, then the working grid). Returns the displacement field
    (``sitkVectorFloat64``, mm) on the grid of ``fixed``.
    """
    warped = sitk.Resample(moving, fixed, affine, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    fixed_f = sitk.Cast(fixed, sitk.sitkFloat32)
    matcher = sitk.HistogramMatchingImageFilter()
    matcher.SetNumberOfHistogramLevels(128)
    matcher.SetNumberOfMatchPoints(15)
    matcher.ThresholdAtMeanIntensityOn()
    warped = matcher.Execute(warped, fixed_f)

    field_img: sitk.Image | None = None
    for shrink in (2, 1):
        if shrink > 1:
            f_lvl = sitk.Shrink(
                sitk.SmoothingRecursiveGaussian(fixed_f, 1.0),
                [shrink if s > 1 else 1 for s in fixed_f.GetSize()],
            )
            m_lvl = sitk.Resample(sitk.SmoothingRecursiveGaussian(warped, 1.0), f_lvl)
        else:
            f_lvl, m_lvl = fixed_f, warped
        demons = sitk.DiffeomorphicDemonsRegistrationFilter()
        demons.SetNumberOfIterations(int(iterations))
        demons.SetSmoothDisplacementField(True)
        # ITK smooths the field in voxel units: convert the mm standard deviation per axis
        demons.SetStandardDeviations([max(0.5, smoothing_mm / sp) for sp in f_lvl.GetSpacing()])
        demons.SetSmoothUpdateField(False)
        demons.SetMaximumUpdateStepLength(2.0)
        if field_img is None:
            field_img = demons.Execute(f_lvl, m_lvl)
        else:
            init = sitk.Resample(
                field_img, f_lvl, sitk.Transform(), sitk.sitkLinear, 0.0, field_img.GetPixelID()
            )
            field_img = demons.Execute(f_lvl, m_lvl, init)
    assert field_img is not None
    return sitk.Cast(field_img, sitk.sitkVectorFloat64)
