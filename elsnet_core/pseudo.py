"""Pseudo-labels for the unlabeled studies (stage 2 of the two-stage scheme)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage

from elsnet_core.losses import IGNORE
from elsnet_core.metrics import dice
from elsnet_core.predictor import infer_probs, largest_component_per_class

log = logging.getLogger(__name__)

# An organ whose stage-1 network-vs-registration Dice on the cohort (mean over studies) is below
# this was not learned in stage 1: stage 2 learns it from registration instead
# (:func:`registration_fallback`). Such organs stay poor: of the organs below it in the benchmark
# fits (sessions 4-19), 297 of 310 scored test Dice < 0.5 (docs/benchmarks.md, Session 19).
REGISTRATION_FALLBACK_DICE = 0.2
# A study on which no organ of the registration-propagated label overlaps the stage-1 network's
# by this much (the best organ's Dice below it) was misregistered as a whole (a scan covering a
# different body range: synapse_ct case_02, 597 mm long, as exemplar misplaced every organ of
# two of the four studies, atlas 8-organ Dice 0.003 and 0.039): its registration says nothing
# about which organs stage 1 learned, so it neither counts in their agreement nor receives
# registration labels.
# Session 19: replayed on the 194 logged stage-1 pseudo-labelling rounds of the benchmark runs,
# leaving such studies out changes the organs handed over only in the three case_02 runs
# (docs/benchmarks.md).
REGISTRATION_FAILED_DICE = 0.3


def misregistered(agreements: list[dict[int, float]],
                  min_best: float = REGISTRATION_FAILED_DICE) -> list[int]:
    """Indices of the studies whose registration failed as a whole (see above); a study
    with no organ in either label (an empty agreement) is not judged."""
    return [i for i, a in enumerate(agreements) if a and max(a.values()) < min_best]


def organ_agreement(agreements: list[dict[int, float]]) -> dict[int, float]:
    """Each organ's network-vs-registration Dice, mean over the studies whose registration
    did not fail as a whole (:func:`misregistered`)."""
    bad = set(misregistered(agreements))
    kept = [a for i, a in enumerate(agreements) if i not in bad]
    organs = sorted({c for a in kept for c in a})
    return {c: float(np.mean([a[c] for a in kept if c in a])) for c in organs}


def select_confident(probs: torch.Tensor, threshold: float, propagated: np.ndarray | None = None,
                     agree_threshold: float | None = None, class_keep: float = 0.0
                     ) -> tuple[np.ndarray, float, np.ndarray]:
    """Turn probabilities into a pseudo-label map with uncertain voxels ignored.

    probs: (Z, C, S, S) float; propagated: (Z, S, S) uint8 registration-propagated labels
    (255 = unknown) or None. Rules, in order:

    * a voxel is kept when its max probability >= ``threshold``, or >= ``agree_threshold``
      (lower) where it agrees with the propagated label;
    * class-balanced (``class_keep`` > 0): of the voxels the network calls organ c, at least
      the ``class_keep`` most confident share is kept, so an organ the network is unsure of
      everywhere (small, or confused with a look-alike) keeps its core instead of vanishing
      from stage 2 (after class-balanced self-training, Zou et al., ECCV 2018);
    * where registration says organ c and the network says background, the voxel is
      ignored whatever the network's confidence: a stage-1 model that has not learned an
      organ (seen on CHAOS: the spleen) would otherwise teach stage 2 that the organ is
      background, and self-training would erase it;
    * organ voxels outside the largest 3D component of their class are ignored.

    Returns (labels (Z, S, S) uint8 with 255 = ignored, mean max-probability over organs,
    the network's plain argmax (Z, S, S) uint8).
    """
    conf, arg = probs.max(dim=1)
    conf_np = conf.numpy()
    lab = arg.numpy().astype(np.uint8)
    keep = conf_np >= threshold
    if class_keep > 0:
        for c in np.unique(lab):
            if c == 0:
                continue
            m = lab == c
            t = float(np.quantile(conf_np[m], 1.0 - class_keep))
            if t < threshold:
                keep |= m & (conf_np >= t)
    if propagated is not None:
        known = propagated != IGNORE
        if agree_threshold is not None:
            agree = (propagated == lab) & known
            keep |= agree & (conf_np >= agree_threshold)
        missed = known & (propagated > 0) & (lab == 0)
        keep &= ~missed
    out = np.where(keep, lab, IGNORE).astype(np.uint8)
    out[largest_component_per_class(lab, fill=IGNORE) == IGNORE] = IGNORE
    organ = lab > 0
    mean_conf = float(conf_np[organ].mean()) if organ.any() else 0.0
    return out, mean_conf, lab


def agreement(pseudo: np.ndarray, propagated: np.ndarray, n_classes: int) -> dict[int, float]:
    """Dice per organ between the network's labels and registration's, where both are known.

    A label-free signal of what stage 1 learned: an organ the network misses scores ~0.
    Classes absent from both maps are left out.
    """
    both = (pseudo != IGNORE) & (propagated != IGNORE)
    out: dict[int, float] = {}
    for c in range(1, n_classes):
        score = dice((pseudo == c) & both, (propagated == c) & both)
        if score is not None:
            out[c] = score
    return out


#: (study index, the network's argmax there) -> the exemplar's labels registered anew, or None
Reregister = Callable[[int, np.ndarray], np.ndarray | None]


def _mean_agreement(argmax: np.ndarray, prop: np.ndarray, n_classes: int) -> float:
    scores = agreement(argmax, prop, n_classes)
    return float(np.mean(list(scores.values()))) if scores else 0.0


def pseudo_label(model: torch.nn.Module, volumes: list[np.ndarray], context: int,
                 device: torch.device, threshold: float,
                 propagated: list[np.ndarray | None] | None,
                 amp: bool = True, on_step=None, class_keep: float = 0.0,
                 reregister: Reregister | None = None
                 ) -> tuple[list[np.ndarray], list[float], list[dict[int, float]],
                            list[np.ndarray | None] | None]:
    """Pseudo-label every working volume (Z, S, S) float32; see :func:`select_confident`.

    ``reregister`` (optional): for every study with propagated labels, registration is run
    again from the network's organs; the new labels replace the old ones when they agree
    better with the network (mean Dice over organs), before the pseudo-labels are chosen.

    Returns (labels, mean confidences, per-study Dice of the network's argmax against the
    registration-propagated labels per organ (empty where nothing was propagated), the
    propagated labels as used: a new list, None when ``propagated`` is None).
    """
    labels, confs, agrees = [], [], []
    used = list(propagated) if propagated is not None else None
    for i, vol in enumerate(volumes):
        probs = infer_probs(model, vol, context, device, tta=True, amp=amp)
        prop = used[i] if used is not None else None
        if reregister is not None and prop is not None:
            argmax = probs.argmax(dim=1).numpy().astype(np.uint8)
            again = reregister(i, argmax)
            if again is not None:
                before = _mean_agreement(argmax, prop, probs.shape[1])
                after = _mean_agreement(argmax, again, probs.shape[1])
                log.info("study %d registered again from the network's organs: agreement "
                         "%.3f -> %.3f (%s)", i, before, after,
                         "kept" if after > before else "discarded")
                if after > before and used is not None:
                    prop = used[i] = again
        lab, conf, argmax = select_confident(probs, threshold, prop, agree_threshold=0.6,
                                              class_keep=class_keep)
        agrees.append(agreement(argmax, prop, probs.shape[1]) if prop is not None else {})
        labels.append(lab)
        confs.append(conf)
        log.info("pseudo-labelled study %d: mean confidence %.3f, kept %.1f%%, agreement with "
                 "registration %s", i, conf, 100 * float((lab != IGNORE).mean()),
                 {c: round(v, 2) for c, v in agrees[-1].items()})
        if on_step:
            on_step(i + 1, len(volumes))
    return labels, confs, agrees, used


def registration_fallback(pseudo: list[np.ndarray], propagated: list[np.ndarray | None],
                          agreements: list[dict[int, float]],
                          min_agreement: float = REGISTRATION_FALLBACK_DICE
                          ) -> list[int]:
    """Hand organs the stage-1 network missed over to registration, in place.

    An organ whose network-vs-registration Dice (:func:`organ_agreement`: mean over the
    studies not misregistered as a whole) is below ``min_agreement`` was not learned in
    stage 1 (seen on CHAOS: one organ of two with the same appearance, e.g. spleen vs kidney,
    can stay unlearned in a short CPU budget). Ignoring it in stage 2 would keep it unlearned;
    instead its registration-propagated voxels (eroded by one pixel in-plane: registration is
    least sure at boundaries) become its pseudo-label wherever the network made no confident
    call, on every study but the misregistered ones. Returns the organs handed over.
    """
    failed = [c for c, v in organ_agreement(agreements).items() if v < min_agreement]
    skip = set(misregistered(agreements))
    if skip:
        log.info("registration to studies %s failed as a whole (no organ agrees with stage 1 "
                 "by Dice %.2f): they get no registration labels", sorted(skip),
                 REGISTRATION_FAILED_DICE)
    struct = np.zeros((3, 3, 3), dtype=bool)
    struct[1] = ndimage.generate_binary_structure(2, 1)
    for i, (lab, prop) in enumerate(zip(pseudo, propagated, strict=True)):
        if prop is None or i in skip:
            continue
        for c in failed:
            core = ndimage.binary_erosion(prop == c, struct)
            lab[core & ((lab == IGNORE) | (lab == 0))] = c
    if failed:
        log.info("organs %s were not learned in stage 1 (agreement with registration < %.2f): "
                 "stage 2 trains them on registration-propagated labels", failed, min_agreement)
    return failed
