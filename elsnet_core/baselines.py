"""Baselines the benchmark compares ELSNet with.

(a) **Atlas registration label propagation**: the exemplar (moving) is registered to each
    test image (fixed) with :func:`elsnet_core.registration.register` (affine + diffeomorphic
    demons) and its label map is warped with nearest-neighbour interpolation. That is the
    prediction. In the slice setting only one exemplar slice carries labels and every other
    voxel is 255 ("not annotated"); after the warp, 255 becomes background. The affine-only
    variant comes for free from the same registration (deformable part scaled by 0).
(b) **U-Net with standard augmentation**: the core's ``fit`` with
    ``overrides={"standard_aug_only": True}`` (same network, exemplar only, random
    augmentation, no cohort synthesis, no contrastive loss, no stage 2).

Arrays are ``(X, Y, Z)`` (nibabel voxel order), spacing in mm.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from elsnet_core.registration import NOT_ANNOTATED, register

logger = logging.getLogger(__name__)

__all__ = ["AtlasPrediction", "atlas_propagation", "fit_standard_unet"]

#: overrides that turn ``fit`` into the naive baseline (see ``elsnet_core/config.py``).
STANDARD_UNET_OVERRIDES: dict[str, Any] = {"standard_aug_only": True}


@dataclass(frozen=True)
class AtlasPrediction:
    """Labels propagated from the exemplar onto one target grid.

    Attributes:
        deformable: ``(X, Y, Z)`` uint8 on the target grid, affine + demons.
        affine: ``(X, Y, Z)`` uint8 on the target grid, affine stage only.
        seconds: wall time of registration and both warps.
    """

    deformable: np.ndarray
    affine: np.ndarray
    seconds: float


def _unknown_to_background(label: np.ndarray) -> np.ndarray:
    out = np.asarray(label, dtype=np.uint8).copy()
    out[out == NOT_ANNOTATED] = 0
    return out


def atlas_propagation(
    exemplar_image: np.ndarray,
    exemplar_label: np.ndarray,
    exemplar_spacing: Sequence[float],
    target_image: np.ndarray,
    target_spacing: Sequence[float],
    *,
    threads: int | None = None,
    **register_kwargs: Any,
) -> AtlasPrediction:
    """Propagate the exemplar's labels to one target image by registration.

    Args:
        exemplar_image: ``(X, Y, Z)`` float exemplar volume (moving).
        exemplar_label: ``(X, Y, Z)`` uint8 exemplar labels; 255 = not annotated.
        exemplar_spacing: exemplar spacing in mm.
        target_image: ``(X, Y, Z)`` float test volume (fixed).
        target_spacing: test spacing in mm.
        threads: SimpleITK threads.
        register_kwargs: forwarded to :func:`register` (e.g. ``coarse_spacing_mm``).

    Returns:
        :class:`AtlasPrediction` with labels on the target grid (255 already mapped to 0).
    """
    t0 = time.perf_counter()
    if exemplar_label.shape != exemplar_image.shape:
        raise ValueError(
            f"exemplar label shape {exemplar_label.shape} != image shape {exemplar_image.shape}"
        )
    res = register(
        target_image,
        exemplar_image,
        target_spacing,
        exemplar_spacing,
        deformable=True,
        threads=threads,
        **register_kwargs,
    )
    lab = np.asarray(exemplar_label, dtype=np.uint8)
    deformable = _unknown_to_background(res.warp(lab, order=0))
    affine = _unknown_to_background(res.warp(lab, order=0, scale=0.0))
    return AtlasPrediction(deformable, affine, time.perf_counter() - t0)


def fit_standard_unet(
    exemplars: list[tuple[Path, Path]],
    unlabeled: list[Path],
    out_dir: Path,
    *,
    preset: str = "fast",
    device: str = "auto",
    seed: int = 0,
    labels: dict[int, str] | None = None,
    extra_overrides: dict[str, Any] | None = None,
) -> Any:
    """The naive baseline: the core's ``fit`` with standard augmentation only.

    The unlabeled studies are passed on for symmetry with ELSNet, but the
    ``standard_aug_only`` flag makes ``fit`` ignore them. Returns the core's ``FitResult``.
    """
    from elsnet_core import fit  # late import: torch is only loaded when needed

    overrides = {**STANDARD_UNET_OVERRIDES, **(extra_overrides or {})}
    return fit(
        exemplars=exemplars,
        unlabeled=unlabeled,
        out_dir=out_dir,
        preset=preset,
        device=device,
        seed=seed,
        labels=labels,
        overrides=overrides,
    )
