"""Pseudo-labels for the unlabeled studies (stage 2 of the two-stage scheme)."""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy import ndimage

from elsnet_core.losses import IGNORE
from elsnet_core.predictor import infer_probs

log = logging.getLogger(__name__)


def select_confident(probs: torch.Tensor, threshold: float, propagated: np.ndarray | None = None,
                     agree_threshold: float | None = None) -> tuple[np.ndarray, float]:
    """Turn probabilities into a pseudo-label map with uncertain voxels ignored.

    probs: (Z, C, S, S) float; propagated: (Z, S, S) uint8 registration-propagated labels
    (255 = unknown) or None. A voxel is kept when its max probability >= ``threshold``, or
    >= ``agree_threshold`` (lower) where it agrees with the propagated label. Organ voxels
    outside the largest 3D component of their class are ignored as well.
    Returns (labels (Z, S, S) uint8 with 255 = ignored, mean max-probability over organs).
    """
    conf, arg = probs.max(dim=1)
    conf_np = conf.numpy()
    lab = arg.numpy().astype(np.uint8)
    keep = conf_np >= threshold
    if propagated is not None and agree_threshold is not None:
        agree = (propagated == lab) & (propagated != IGNORE)
        keep |= agree & (conf_np >= agree_threshold)
    out = np.where(keep, lab, IGNORE).astype(np.uint8)
    struct = np.ones((3, 3, 3), dtype=bool)
    for c in np.unique(lab):
        if c == 0:
            continue
        mask = lab == c
        comp, n = ndimage.label(mask, structure=struct)
        if n > 1:
            sizes = ndimage.sum(mask, comp, index=np.arange(1, n + 1))
            out[mask & (comp != int(np.argmax(sizes)) + 1)] = IGNORE
    organ = lab > 0
    mean_conf = float(conf_np[organ].mean()) if organ.any() else 0.0
    return out, mean_conf


def pseudo_label(model: torch.nn.Module, volumes: list[np.ndarray], context: int,
                 device: torch.device, threshold: float,
                 propagated: list[np.ndarray | None] | None,
                 amp: bool = True, on_step=None) -> tuple[list[np.ndarray], list[float]]:
    """Pseudo-label every working volume (Z, S, S) float32; see :func:`select_confident`."""
    labels, confs = [], []
    for i, vol in enumerate(volumes):
        probs = infer_probs(model, vol, context, device, tta=True, amp=amp)
        prop = propagated[i] if propagated is not None else None
        lab, conf = select_confident(probs, threshold, prop, agree_threshold=0.6)
        labels.append(lab)
        confs.append(conf)
        log.info("pseudo-labelled study %d: mean confidence %.3f, kept %.1f%%", i, conf,
                 100 * float((lab != IGNORE).mean()))
        if on_step:
            on_step(i + 1, len(volumes))
    return labels, confs
