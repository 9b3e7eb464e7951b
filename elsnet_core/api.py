"""``fit``: one (or a few) annotated studies + the unlabeled cohort -> a model artefact.

Stages (reported through :class:`ProgressEvent`): ``synthesis`` (register the exemplar to the
cohort, build cohort-looking annotated volumes), ``train_stage1`` (exemplar + synthetic),
``pseudo_label`` (confident voxels of every unlabeled study), ``train_stage2`` (everything).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from elsnet_core.artifact import Plan, save_model
from elsnet_core.completion import CompletionSettings, complete_label
from elsnet_core.config import ElsnetConfig, make_config
from elsnet_core.errors import Cancelled, InvalidExemplar, InvalidInput
from elsnet_core.exemplar import SliceSuggestion, suggest_next_slice
from elsnet_core.io import load_label, load_volume
from elsnet_core.losses import IGNORE, PrototypeContrast, class_balance_weights
from elsnet_core.metrics import pooled_dice
from elsnet_core.model import Elsnet, build_elsnet
from elsnet_core.predictor import predict_volume, resolve_device
from elsnet_core.preprocess import (
    WorkingGrid,
    detect_modality,
    normalize_intensity,
    plan_field_of_view,
)
from elsnet_core.propagation import PropagationSettings, propagate_slices
from elsnet_core.pseudo import (
    REGISTRATION_FALLBACK_DICE,
    Reregister,
    misregistered,
    organ_agreement,
    pseudo_label,
    registration_fallback,
)
from elsnet_core.synthesis import cohort_bank, reregister_from_network
from elsnet_core.training import (
    SlicePool,
    Source,
    StageHooks,
    amp_enabled,
    load_checkpoint,
    save_checkpoint,
    train_stage,
)

log = logging.getLogger(__name__)

STAGES = ("synthesis", "train_stage1", "pseudo_label", "train_stage2")
# A stage trains at least this share of its planned iterations even when the time budget
# is already spent (registration of a large cohort on a slow CPU, say): a fit may then run
# over its budget, but it never returns an untrained model.
MIN_TRAIN_FRACTION = 0.1
# an organ whose Dice on the exemplar's own annotated voxels is below this after training was not
# learned (learned organs score 0.84-0.96 there, unlearned ones ~0: session 14, Synapse fast)
NOT_LEARNED_DICE = 0.5
# fit's metric: the stage-1 network's Dice against the registration-propagated labels of the
# cohort, mean over studies, per organ (the suffix); see FitResult.from_registration
_AGREEMENT_KEY = "stage1_vs_registration_dice_"


@dataclass(frozen=True)
class ProgressEvent:
    """stage in STAGES; fraction: overall 0..1 (monotonic); stage_fraction: 0..1 in stage."""

    stage: str
    fraction: float
    stage_fraction: float
    eta_s: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class FitResult:
    """What ``fit`` made. next_slices: for each exemplar painted on a few slices only (index
    into ``exemplars``), the slice to paint next (:func:`elsnet_core.exemplar.suggest_next_slice`
    on the trained model's prediction of that study); absent when no stretch is long enough.
    completed_labels: for the same exemplars, the label map stage 1 trained on -- the painted
    slices carried into the whole study (random-walk completion) -- on the exemplar image's own
    grid, (X, Y, Z) uint8, 255 where the completion was not sure; the painted voxels as painted.
    exemplar_dice: each annotated organ's Dice when the trained model segments its own
    exemplar(s), on the annotated voxels (a self-check: see ``not_learned``)."""

    model_dir: Path
    config: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    device: str
    next_slices: dict[int, SliceSuggestion] = field(default_factory=dict)
    completed_labels: dict[int, np.ndarray] = field(default_factory=dict)
    exemplar_dice: dict[int, float] = field(default_factory=dict)

    @property
    def not_learned(self) -> list[int]:
        """Organs the model does not reproduce on its own exemplar's annotated voxels."""
        return sorted(c for c, d in self.exemplar_dice.items() if d < NOT_LEARNED_DICE)

    @property
    def from_registration(self) -> dict[int, float]:
        """Organs stage 1 did not learn on the cohort, by their stage-1 network-vs-registration
        Dice there (below ``REGISTRATION_FALLBACK_DICE``): stage 2 learned them from the
        registration-propagated labels, so expect registration-quality masks and check them.
        Empty when the fit had no cohort to register to (or no stage 2)."""
        found: dict[int, float] = {}
        for key, value in self.metrics.items():
            if key.startswith(_AGREEMENT_KEY) and value < REGISTRATION_FALLBACK_DICE:
                found[int(key[len(_AGREEMENT_KEY):])] = float(value)
        return dict(sorted(found.items()))


@dataclass
class _Study:
    image: np.ndarray  # working (Z, S, S) float32
    label: np.ndarray | None  # working (Z, S, S) uint8 or None
    spacing: tuple[float, float, float]  # working (i, j, z) mm
    painted: np.ndarray | None = None  # slice setting: the label as painted, before extension
    grid: WorkingGrid | None = None  # the study's working grid (maps results back to its own)


def _labels(study: _Study) -> np.ndarray:
    """The label map of an exemplar study (exemplars always carry one)."""
    if study.label is None:
        raise InvalidExemplar("an exemplar study has no label map")
    return study.label


# numpy's stubs type savez's **kwds as its keyword options; arrays go through Any here
_np_savez: Callable[..., None] = np.savez


def _savez(path: Path, **arrays: Any) -> None:
    """np.savez to ``path`` through a temporary file: a crash mid-write leaves no half cache
    for the resumed run to load."""
    tmp = path.with_suffix(".tmp.npz")
    _np_savez(tmp, **arrays)
    tmp.replace(path)


class _Progress:
    """Maps stage progress to a monotonic overall fraction, throttles callbacks."""

    def __init__(self, callback: Callable[[ProgressEvent], None] | None, weights: dict[str, float],
                 t0: float) -> None:
        self.callback = callback
        total = sum(weights.values()) or 1.0
        self.weights = {k: v / total for k, v in weights.items()}
        self.t0 = t0
        self.best = 0.0
        self.last = 0.0

    def __call__(self, stage: str, stage_fraction: float, metrics: dict[str, float] | None = None,
                 message: str = "", force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        before = sum(w for s, w in self.weights.items() if STAGES.index(s) < STAGES.index(stage))
        frac = min(1.0, before + self.weights.get(stage, 0.0) * min(max(stage_fraction, 0.0), 1.0))
        self.best = max(self.best, frac)
        elapsed = now - self.t0
        eta = elapsed * (1 - self.best) / self.best if self.best > 0.02 else None
        self.callback(ProgressEvent(stage, self.best, float(min(max(stage_fraction, 0.0), 1.0)),
                                    eta, dict(metrics or {}), message))


def _fingerprint(cfg: ElsnetConfig, studies: list[_Study], seed: int) -> str:
    """Key of a fit's resumable work (caches, checkpoint): config, seed and the studies' content.

    Hashes the preprocessed working volumes and labels, not the file paths, so a file replaced
    at the same path (a corrected annotation) never resumes from the old one's work.
    """
    h = hashlib.sha256()
    h.update(cfg.to_json().encode())
    h.update(str(seed).encode())
    for st in studies:
        for arr in (st.image, st.label):
            if arr is None:
                h.update(b"none")
                continue
            h.update(repr((arr.shape, str(arr.dtype))).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def _check_labels(lab: np.ndarray, path) -> set[int]:
    values = set(np.unique(lab).tolist()) - {IGNORE}
    organs = values - {0}
    if not organs:
        raise InvalidExemplar(f"{path}: no organ label (1..254) in the exemplar")
    return values


def _class_weights(exs: list[_Study], n_classes: int, cfg: ElsnetConfig
                   ) -> tuple[torch.Tensor | None, dict[str, float]]:
    """CE class weights from the exemplars' labelled voxels (painted + completed in the slice
    setting), and their metrics; (None, {}) when ``ce_class_power`` is 0, None and the metrics
    when every weight is 1 (organs of comparable size: plain CE)."""
    if cfg.ce_class_power <= 0:
        return None, {}
    counts = np.zeros(n_classes, dtype=np.int64)
    for study in exs:
        lab = _labels(study)
        counts += np.bincount(lab[lab != IGNORE].ravel(), minlength=n_classes)[:n_classes]
    ce_weights = class_balance_weights(counts.tolist(), cfg.ce_class_power, cfg.ce_class_max,
                                      cfg.ce_class_min_ratio)
    log.info("CE class weights %s", [round(w, 2) for w in ce_weights])
    recorded = {f"ce_weight_{c}": w for c, w in enumerate(ce_weights) if c}
    if all(w == 1.0 for w in ce_weights):
        # nothing to lift: train on the plain loss itself, not a weighted CE with unit weights
        # (equal in exact arithmetic; this keeps such a fit the plain fit to the last bit)
        return None, recorded
    return torch.tensor(ce_weights, dtype=torch.float32), recorded


def _pseudo_round(r: int, model: torch.nn.Module, targets: list[np.ndarray],
                  props: list[np.ndarray | None] | None, partial: list[_Study], n_unl: int,
                  cfg: ElsnetConfig, dev: torch.device, amp: bool, n_classes: int,
                  metrics: dict[str, float], cache: Path | None,
                  on_step: Callable[[int, int], None],
                  reregister: Reregister | None = None
                  ) -> tuple[list[np.ndarray], list[np.ndarray | None] | None]:
    """Pseudo-labels of self-training round ``r`` (0-based), from ``cache`` when present.

    Round 0 registers the exemplar to each study again from the network's organs where
    ``reregister`` is given (keeping whichever registration agrees better with the network),
    records how far stage 1 agrees with registration per organ and hands the organs it did
    not learn to registration (:func:`registration_fallback`); every round keeps the painted
    voxels of a slice exemplar as painted. Updates ``metrics`` in place. Returns the
    pseudo-labels and the registration-propagated labels to use from now on.
    """
    prefix = "stage1" if r == 0 else f"round{r + 1}"
    if cache is not None and cache.exists():
        data = np.load(cache)
        plabs = [data[f"lab{i}"] for i in range(len(targets))]
        if props is not None:  # the registrations this round kept (written since session 20)
            props = [data.get(f"prop{i}", p) for i, p in enumerate(props)]
        confs = [float(c) for c in data["conf"]]
        # a resumed fit keeps the agreement it measured (FitResult.from_registration)
        agreement = ({int(c): float(v) for c, v in zip(data["agree_c"].tolist(),
                                                        data["agree_v"].tolist(), strict=True)}
                     if "agree_c" in data else {})
        n_misregistered: int | None = (int(data["misregistered"]) if "misregistered" in data
                                       else None)  # a cache written before it was recorded
    else:
        before = props
        plabs, confs, agrees, props = pseudo_label(
            model, targets, cfg.context, dev, cfg.pseudo_threshold, props, amp=amp,
            on_step=on_step, class_keep=cfg.pseudo_class_keep, reregister=reregister)
        again = ([i for i, (a, b) in enumerate(zip(before, props, strict=True)) if a is not b]
                 if before is not None and props is not None else [])
        if reregister is not None:
            metrics["stage1_reregistered_studies"] = float(len(again))
        # network vs registration, per organ, over the studies not misregistered as a whole
        agreement = organ_agreement(agrees)
        n_misregistered = len(misregistered(agrees))
        if props is not None:
            handed = registration_fallback(plabs, props, agrees)
            if r == 0:
                metrics["stage2_registration_fallback_organs"] = float(len(handed))
        for i, s in enumerate(partial):  # the painted voxels stay as painted
            lab = plabs[n_unl + i]
            painted = s.painted if s.painted is not None else _labels(s)
            plabs[n_unl + i] = np.where(painted != IGNORE, painted, lab).astype(np.uint8)
        if cache is not None:
            _savez(cache, conf=np.array(confs), agree_c=np.array(list(agreement), dtype=np.int64),
                   agree_v=np.array(list(agreement.values()), dtype=np.float64),
                   misregistered=np.asarray(n_misregistered),
                   **{f"lab{i}": a for i, a in enumerate(plabs)},
                   **{f"prop{i}": props[i] for i in again if props is not None})
    for c, v in agreement.items():
        metrics[f"{prefix}_vs_registration_dice_{c}"] = v
    if props is not None and n_misregistered is not None:
        metrics[f"{prefix}_misregistered_studies"] = float(n_misregistered)
    metrics["pseudo_confidence"] = float(np.mean(confs)) if confs else 0.0
    metrics["pseudo_kept_fraction"] = float(np.mean([(p != IGNORE).mean() for p in plabs]))
    if r > 0:
        metrics[f"round{r + 1}_pseudo_kept_fraction"] = metrics["pseudo_kept_fraction"]
    return plabs, props


def fit(
    exemplars: Sequence[tuple[str | Path, str | Path]],
    unlabeled: Sequence[str | Path] = (),
    out_dir: str | Path = "model",
    preset: str = "fast",
    device: str = "auto",
    seed: int = 0,
    labels: dict[int, str] | None = None,
    work_dir: str | Path | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    overrides: dict[str, Any] | None = None,
) -> FitResult:
    """Train an ELSNet model from annotated exemplar(s) and an unlabeled cohort.

    exemplars: [(image_path, label_path)], NIfTI (or DICOM folder for images); labels uint8 on
    the image grid, 0 background, 1..K organs, 255 = not annotated (ignored).
    unlabeled: image paths (may be empty). overrides: ElsnetConfig fields (ablations, budget).
    Returns FitResult; raises InvalidInput subclasses for bad data and Cancelled on stop.
    """
    t0 = time.monotonic()
    should_stop = should_stop or (lambda: False)
    if not exemplars:
        raise InvalidInput("at least one exemplar (image, label) is required")
    cfg = make_config(preset, overrides).effective()
    if cfg.max_unlabeled < 0:
        raise InvalidInput(f"max_unlabeled must be >= 0, got {cfg.max_unlabeled}")
    if cfg.cohort_samples_per_study < 1:
        raise InvalidInput("cohort_samples_per_study must be >= 1, got "
                           f"{cfg.cohort_samples_per_study}")
    if not 0.0 <= cfg.pseudo_class_keep <= 1.0:
        raise InvalidInput("pseudo_class_keep is a share of each organ's voxels: give a value "
                           f"from 0 to 1, got {cfg.pseudo_class_keep}")
    if cfg.ce_class_power < 0 or cfg.ce_class_max < 1 or cfg.ce_class_min_ratio < 1:
        raise InvalidInput("class-balanced CE needs ce_class_power >= 0 (0 = off), "
                           "ce_class_max >= 1 and ce_class_min_ratio >= 1, got "
                           f"{cfg.ce_class_power}, {cfg.ce_class_max} and "
                           f"{cfg.ce_class_min_ratio}")
    unlabeled = list(unlabeled)
    n_unlabeled_given = len(unlabeled)
    if n_unlabeled_given > cfg.max_unlabeled:
        pick = np.random.default_rng(seed).choice(n_unlabeled_given, cfg.max_unlabeled,
                                                  replace=False)
        unlabeled = [unlabeled[i] for i in sorted(pick)]
        log.info("training on %d of %d unlabeled studies (max_unlabeled)", len(unlabeled),
                 n_unlabeled_given)
    dev = resolve_device(device)
    torch.manual_seed(seed)
    if dev.type == "cpu":
        log.info("training on CPU with %d threads", torch.get_num_threads())
    out_dir = Path(out_dir)
    wdir = Path(work_dir) if work_dir is not None else None
    if wdir is not None:
        wdir.mkdir(parents=True, exist_ok=True)

    # ---- load and preprocess -----------------------------------------------------------
    ex_vols, ex_labs, classes = [], [], set()
    for img_path, lab_path in exemplars:
        vol = load_volume(img_path)
        lab = load_label(lab_path, vol)
        classes |= _check_labels(lab, lab_path)
        ex_vols.append(vol)
        ex_labs.append(lab)
    n_classes = max(classes) + 1
    widened = cfg.for_classes(n_classes)
    if widened is not cfg:
        log.info("widths %s -> %s for %d classes (widen_for_classes)", cfg.widths,
                 widened.widths, n_classes)
        cfg = widened
    modality = cfg.modality if cfg.modality != "auto" else detect_modality(ex_vols[0].array)
    norm0 = normalize_intensity(ex_vols[0].array, modality, cfg.ct_window, cfg.mr_percentiles)
    pixel_mm, offset_mm = plan_field_of_view(norm0, ex_labs[0], ex_vols[0].affine, cfg.size,
                                             cfg.fov_margin)
    plan = Plan(modality=modality, pixel_mm=pixel_mm, n_classes=n_classes, offset_mm=offset_mm)
    log.info("plan: %s, pixel %.2f mm, offset %s mm, %d classes", modality, pixel_mm,
             tuple(round(o, 1) for o in offset_mm), n_classes)

    def to_study(vol, lab=None) -> _Study:
        norm = normalize_intensity(vol.array, modality, cfg.ct_window, cfg.mr_percentiles)
        grid = WorkingGrid.plan(vol.affine, vol.shape, norm, cfg.size, pixel_mm, offset_mm)
        work_lab = None
        if lab is not None:
            # outside the original field of view the label is unknown, not background
            work_lab = grid.to_working(lab.astype(np.float32), nearest=True, fill=IGNORE)
            work_lab = work_lab.round().astype(np.uint8)
        return _Study(grid.to_working(norm), work_lab, grid.working_spacing(vol.spacing[2]),
                      grid=grid)

    exs = [to_study(v, lab) for v, lab in zip(ex_vols, ex_labs, strict=True)]
    unl = [to_study(load_volume(p)) for p in unlabeled]
    del ex_vols

    use_cohort = cfg.cohort_synthesis and bool(unl)
    # exemplars annotated on a few slices only (slice setting) are pseudo-labelled too
    partial = [s for s in exs if s.label is not None and _mostly_unannotated(s.label)]
    do_stage2 = cfg.stage2 and bool(unl or partial)
    weights = {"synthesis": 0.12 if use_cohort else 0.01,
               "train_stage1": cfg.stage1_iters / 1000,
               "pseudo_label": 0.03 if do_stage2 else 0.0,
               "train_stage2": cfg.stage2_iters / 1000 if do_stage2 else 0.0}
    report = _Progress(progress, weights, t0)
    report("synthesis", 0.0, message="preprocessed studies", force=True)
    if should_stop():
        raise Cancelled("training cancelled")
    fingerprint = _fingerprint(cfg, [*exs, *unl], seed)
    labelled_share = None
    if partial:
        labelled_share = _extend_painted(
            partial, cfg, wdir / f"completion_{fingerprint}.npz" if wdir else None)
        report("synthesis", 0.0, message="carried the painted slices into the whole study",
               force=True)
        if should_stop():
            raise Cancelled("training cancelled")

    rng = np.random.default_rng(seed)

    # ---- exemplar-guided synthesis from the cohort ------------------------------------
    cohort_imgs: list[np.ndarray] = []
    cohort_labs: list[np.ndarray] = []
    propagated: list[np.ndarray] | None = None
    cache = wdir / f"synthesis_{fingerprint}.npz" if wdir else None
    if use_cohort:
        if cache is not None and cache.exists():
            data = np.load(cache)
            n_s, n_u = int(data["n_samples"]), len(unl)
            cohort_imgs = [data[f"img{i}"] for i in range(n_s)]
            cohort_labs = [data[f"lab{i}"] for i in range(n_s)]
            propagated = [data[f"prop{j}"] for j in range(n_u)]
            log.info("resumed %d cohort samples from %s", n_s, cache)
        else:
            def on_step(i, n):
                if should_stop():
                    raise Cancelled("training cancelled")
                report("synthesis", i / n, message=f"registration {i}/{n}", force=True)

            ex0 = exs[0]
            samples, propagated = cohort_bank(
                ex0.image, _labels(ex0), [u.image for u in unl], [u.spacing for u in unl],
                ex0.spacing, n_classes, rng, iterations=cfg.reg_iterations, coarse_mm=cfg.reg_coarse_mm,
                affine_mode=cfg.reg_affine, per_organ_intensity=cfg.organ_intensity,
                styles_per_target=cfg.cohort_samples_per_study, on_step=on_step)
            cohort_imgs = [s.image for s in samples]
            cohort_labs = [s.label for s in samples]
            if cache is not None:
                arrays = {f"img{i}": a for i, a in enumerate(cohort_imgs)}
                arrays.update({f"lab{i}": a for i, a in enumerate(cohort_labs)})
                arrays.update({f"prop{j}": a for j, a in enumerate(propagated)})
                _savez(cache, n_samples=np.asarray(len(cohort_imgs)), **arrays)
    metrics_synth_s = time.monotonic() - t0
    log.info("preprocessing + synthesis took %.1f s (%d cohort samples)", metrics_synth_s,
             len(cohort_imgs))
    report("synthesis", 1.0, message=f"{len(cohort_imgs)} cohort samples", force=True)

    # ---- model, optimiser, checkpoint --------------------------------------------------
    model = build_elsnet(cfg, n_classes).to(dev)
    if dev.type == "cpu":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    contrast = (PrototypeContrast(n_classes, cfg.embed_dim, cfg.temperature,
                                  cfg.prototype_momentum, cfg.pixels_per_class).to(dev)
                if cfg.contrastive else None)
    class_weights, weight_metrics = _class_weights(exs, n_classes, cfg)
    ema = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
           if cfg.ema_decay > 0 else None)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt_path = wdir / "checkpoint.pt" if wdir else None
    state: dict[str, Any] = {"stage": "train_stage1", "iter": 0}
    ck = load_checkpoint(ckpt_path) if ckpt_path else None
    if ck is not None and ck.get("fingerprint") == fingerprint:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        if contrast is not None and "contrast" in ck:
            contrast.load_state_dict(ck["contrast"])
        state = {"stage": ck["stage"], "iter": int(ck["iter"])}
        log.info("resuming from %s at %s iteration %d", ckpt_path, state["stage"], state["iter"])
    elif ck is not None:
        log.info("checkpoint in %s belongs to another run; starting afresh", wdir)

    def checkpoint(stage: str) -> Callable[[int], None]:
        def _save(it: int) -> None:
            if ckpt_path is None:
                return
            payload = {"fingerprint": fingerprint, "stage": stage, "iter": it,
                       "model": model.state_dict(), "opt": opt.state_dict()}
            if contrast is not None:
                payload["contrast"] = contrast.state_dict()
            save_checkpoint(ckpt_path, payload)
        return _save

    amp = cfg.amp
    budget_end = t0 + cfg.time_budget_s if cfg.time_budget_s else None
    metrics: dict[str, float] = {"n_unlabeled_given": float(n_unlabeled_given),
                                 "n_unlabeled_used": float(len(unl)),
                                 "n_cohort_samples": float(len(cohort_imgs)),
                                 "synthesis_seconds": metrics_synth_s,
                                 "bf16_autocast": float(amp_enabled(dev, amp)), **weight_metrics}
    if labelled_share is not None:  # slice exemplars: labelled share after completion
        metrics["slice_exemplar_labelled_fraction"] = labelled_share

    # ---- stage 1 ------------------------------------------------------------------------
    pool1 = SlicePool(cfg.context, {"exemplar": 1.0 - cfg.cohort_fraction if cohort_imgs else 1.0,
                                    "cohort": cfg.cohort_fraction})
    # indexed once (slices per organ), shared by stage 1 and every self-training round
    annotated = [Source(s.image, _labels(s), "exemplar") for s in exs]
    annotated += [Source(img, lab, "cohort")
                  for img, lab in zip(cohort_imgs, cohort_labs, strict=True)]
    for src in annotated:
        pool1.add(src)
    if not pool1.groups():
        raise InvalidExemplar("the exemplar labels cover no slice of the working field of view")
    strong = not cfg.standard_aug_only
    if state["stage"] == "train_stage1":
        deadline = None
        min_iters1 = math.ceil(MIN_TRAIN_FRACTION * cfg.stage1_iters)
        if budget_end is not None:
            remaining = budget_end - time.monotonic()
            share = cfg.stage1_iters / (cfg.stage1_iters + (cfg.stage2_iters if do_stage2 else 0))
            deadline = time.monotonic() + remaining * share * (0.95 if do_stage2 else 1.0)
            if remaining <= 0:
                log.warning("loading and registration took the whole %.0f s time budget; stage 1 "
                            "trains its minimum of %d iterations anyway", cfg.time_budget_s,
                            min_iters1)
        hooks = StageHooks(
            should_stop=should_stop,
            on_iter=lambda it, m: report("train_stage1", it / cfg.stage1_iters, m,
                                         f"stage 1 iteration {it}/{cfg.stage1_iters}"),
            after_step=lambda: _ema_step(ema, model),
            checkpoint=checkpoint("train_stage1"),
            checkpoint_every_s=cfg.checkpoint_every_s, deadline=deadline,
            min_iters=min_iters1)
        t1 = time.monotonic()
        it, m1 = train_stage(model, contrast, pool1, cfg, opt, cfg.stage1_iters, state["iter"],
                             dev, seed, hooks, strong_aug=strong, amp=amp,
                             class_weights=class_weights)
        metrics.update({f"stage1_{k}": v for k, v in m1.items()})
        metrics["stage1_iters"] = float(it)
        metrics["stage1_seconds"] = time.monotonic() - t1
        state = {"stage": "pseudo_label", "iter": 0}
        checkpoint("pseudo_label")(0)
    report("train_stage1", 1.0, force=True)

    # ---- pseudo-labels and stage 2: self-training rounds ----------------------------------
    # Stage 2 is one learning-rate schedule cut into ``self_training_rounds`` segments; before
    # each segment every unlabeled study (and the unpainted part of a slice exemplar) is
    # pseudo-labelled again by the current model, so later rounds learn from better labels.
    if do_stage2 and state["stage"] != "done":
        targets = [u.image for u in unl] + [s.image for s in partial]
        props: list[np.ndarray | None] | None = None
        if propagated is not None or partial:
            props = [*propagated] if propagated is not None else [None] * len(unl)
            props += [s.label for s in partial]
        reregister: Reregister | None = None
        if cfg.reregister and propagated is not None:
            ex_reg = exs[0]

            def reregister(i: int, network_lab: np.ndarray) -> np.ndarray | None:
                if i >= len(unl):  # a slice exemplar's own unpainted part: not registered
                    return None
                return reregister_from_network(
                    ex_reg.image, _labels(ex_reg), unl[i].image, network_lab, unl[i].spacing,
                    ex_reg.spacing, iterations=cfg.reg_iterations, coarse_mm=cfg.reg_coarse_mm,
                    affine_mode=cfg.reg_affine)
        n_rounds = max(1, min(cfg.self_training_rounds, cfg.stage2_iters))
        ends = [round(cfg.stage2_iters * (r + 1) / n_rounds) for r in range(n_rounds)]
        it = state["iter"] if state["stage"] == "train_stage2" else 0
        t2 = time.monotonic()
        m2: dict[str, float] = {}
        for r, end in enumerate(ends):
            if it >= end:
                continue
            if should_stop():
                raise Cancelled("training cancelled")
            if r > 0 and budget_end is not None and time.monotonic() > budget_end:
                break  # out of time: no point labelling again for zero iterations

            def on_label(i: int, n: int, r: int = r, at: int = it) -> None:
                report("pseudo_label" if r == 0 else "train_stage2",
                       i / n if r == 0 else at / cfg.stage2_iters,
                       message=f"round {r + 1}/{n_rounds}: pseudo-labelling study {i}/{n}",
                       force=True)

            plabs, props = _pseudo_round(
                r, _teacher(ema, model), targets, props, partial, len(unl), cfg, dev, amp, n_classes, metrics,
                wdir / f"pseudo_{fingerprint}_r{r}.npz" if wdir else None, on_label,
                reregister if r == 0 else None)
            if r == 0:
                report("pseudo_label", 1.0, {"pseudo_confidence": metrics["pseudo_confidence"]},
                       force=True)
            # weak pseudo-labels (few confident voxels) get a proportionally smaller share
            pseudo_share = cfg.pseudo_fraction * min(1.0, metrics["pseudo_kept_fraction"] / 0.6)
            rest = 1.0 - pseudo_share
            pool2 = SlicePool(cfg.context, {
                "pseudo": pseudo_share,
                "cohort": rest * cfg.cohort_fraction if cohort_imgs else 0.0,
                "exemplar": rest * (1.0 - cfg.cohort_fraction) if cohort_imgs else rest})
            for src in annotated:
                pool2.add(src)
            for img, lab in zip(targets, plabs, strict=True):
                pool2.add(Source(img, lab, "pseudo"))
            hooks = StageHooks(
                should_stop=should_stop,
                on_iter=lambda i, m: report("train_stage2", i / cfg.stage2_iters, m,
                                            f"stage 2 iteration {i}/{cfg.stage2_iters}"),
                after_step=lambda: _ema_step(ema, model),
                checkpoint=checkpoint("train_stage2"),
                checkpoint_every_s=cfg.checkpoint_every_s,
                deadline=budget_end, stop_at=end, t_start=t2,
                min_iters=min(end, math.ceil(MIN_TRAIN_FRACTION * cfg.stage2_iters)))
            it, m2 = train_stage(model, contrast, pool2, cfg, opt, cfg.stage2_iters, it, dev,
                                 seed + 1, hooks, strong_aug=strong, amp=amp,
                                 class_weights=None if cfg.ce_class_stage1_only else class_weights)
            checkpoint("train_stage2")(it)  # a resumed run starts at this round's end
            if it < end:
                break  # the time budget ended the stage
        metrics.update({f"stage2_{k}": v for k, v in m2.items()})
        metrics["stage2_iters"] = float(it)
        metrics["stage2_seconds"] = time.monotonic() - t2
        report("train_stage2", 1.0, force=True)

    final = _teacher(ema, model)  # what is checked and saved: the averaged weights when on
    next_slices, exemplar_dice = _review_exemplars(final, cfg, plan, exemplars, ex_labs,
                                                   n_classes, dev)
    metrics.update({f"exemplar_dice_{c}": d for c, d in exemplar_dice.items()})
    if exemplar_dice:
        metrics["exemplar_dice_mean"] = float(np.mean(list(exemplar_dice.values())))
    completed = _completed_labels(exs, ex_labs)
    fit_seconds = time.monotonic() - t0
    metrics["fit_seconds"] = fit_seconds
    names = {c: f"class_{c}" for c in range(1, n_classes)}
    names.update({int(k): str(v) for k, v in (labels or {}).items()})
    save_model(out_dir, final, cfg, plan, names, metrics, seed)
    if ckpt_path is not None:
        checkpoint("done")(0)
    meta = json.loads((out_dir / "config.json").read_text())
    return FitResult(out_dir, meta, metrics, fit_seconds, str(dev), next_slices, completed,
                     exemplar_dice)


def _ema_step(ema: AveragedModel | None, model: torch.nn.Module) -> None:
    if ema is not None:
        ema.update_parameters(model)


def _teacher(ema: AveragedModel | None, model: Elsnet) -> Elsnet:
    """The network that labels and is saved: the weight average when kept, else ``model``."""
    if ema is None:
        return model
    teacher = ema.module
    assert isinstance(teacher, Elsnet)
    return teacher


def _completed_labels(exs: list[_Study], painted: list[np.ndarray]) -> dict[int, np.ndarray]:
    """The extended labels of the slice exemplars on their own grids (``FitResult``)."""
    out: dict[int, np.ndarray] = {}
    for i, (st, lab) in enumerate(zip(exs, painted, strict=True)):
        if st.painted is None or st.grid is None:
            continue  # a whole-volume exemplar: trained on as given
        full = st.grid.labels_to_original(_labels(st))
        known = lab != IGNORE
        full[known] = lab[known]
        out[i] = full
    return out


def _extend_painted(partial: list[_Study], cfg: ElsnetConfig, cache: Path | None) -> float:
    """Carry the painted slices of slice exemplars into the rest of the study, in place:
    slice-to-slice propagation and/or the random-walk completion, as ``cfg`` says. The label
    as painted is kept in ``painted`` (stage 2 never overrides it); the extended labels are
    kept in ``cache`` for a resumed run (the walk takes up to ~1 min on a long CT). Returns
    the mean share of the exemplars' working voxels labelled afterwards."""
    for s in partial:
        s.painted = _labels(s)
    if cache is not None and cache.exists():
        data = np.load(cache)
        for i, s in enumerate(partial):
            s.label = data[f"lab{i}"]
        log.info("resumed the completed slice exemplars from %s", cache)
        return float(np.mean([(_labels(s) != IGNORE).mean() for s in partial]))
    propagation = (PropagationSettings(max_mm=cfg.slice_propagation_mm,
                                       band_mm_per_10mm=cfg.slice_band_mm_per_10mm)
                   if cfg.slice_propagation_mm > 0 else None)
    completion = (CompletionSettings(beta=cfg.completion_beta,
                                     threshold=cfg.completion_threshold,
                                     organs=cfg.completion_organs,
                                     max_label_voxels=cfg.completion_max_label_voxels)
                  if cfg.slice_completion else None)
    for s in partial:
        spacing = (s.spacing[2], s.spacing[0], s.spacing[1])  # (z, row, col) mm
        if propagation is not None:
            s.label = propagate_slices(s.image, _labels(s), spacing, propagation)
        if completion is not None:
            s.label = complete_label(s.image, _labels(s), spacing, completion)
    if cache is not None:
        _savez(cache, **{f"lab{i}": _labels(s) for i, s in enumerate(partial)})
    return float(np.mean([(_labels(s) != IGNORE).mean() for s in partial]))


def _mostly_unannotated(label: np.ndarray) -> bool:
    """An exemplar painted on a few slices only (the slice setting): most voxels are 255."""
    return float((label == IGNORE).mean()) > 0.5


def _review_exemplars(model: torch.nn.Module, cfg: ElsnetConfig, plan: Plan,
                      exemplars: Sequence[tuple[str | Path, str | Path]],
                      labels: list[np.ndarray], n_classes: int, dev: torch.device
                      ) -> tuple[dict[int, SliceSuggestion], dict[int, float]]:
    """Segment every exemplar with the trained model, as a user's study would be.

    Returns (the slice to paint next in each exemplar that is mostly not annotated, the Dice of
    each organ on the exemplars' annotated voxels, pooled over exemplars). The second is a
    self-check, not an accuracy estimate: the model trained on these voxels, so an organ it
    does not reproduce there (Dice below ``NOT_LEARNED_DICE``) was not learned at all -- on
    ``fast``'s 128-px grid, e.g., organs of a few dozen pixels per slice (session 14).
    """
    out: dict[int, SliceSuggestion] = {}
    pairs = []
    for i, ((img_path, _), lab) in enumerate(zip(exemplars, labels, strict=True)):
        vol = load_volume(img_path)
        pred, _ = predict_volume(model, cfg, plan, vol.array, vol.affine, dev)
        pairs.append((pred.labels, lab))
        if not _mostly_unannotated(lab):
            continue  # a whole-volume exemplar: nothing left to paint
        sug = suggest_next_slice(pred.labels, lab, float(vol.spacing[2]))
        if sug is not None:
            out[i] = sug
            log.info("exemplar %d: paint slice %d next (middle of an unpainted %.0f mm of the "
                     "organs' extent, slices %d-%d)", i, sug.slice_index, sug.gap_mm,
                     *sug.organ_extent)
    dice = pooled_dice(pairs, n_classes, IGNORE)
    missed = [c for c, d in dice.items() if d < NOT_LEARNED_DICE]
    if missed:
        log.warning("organs %s are not reproduced on the exemplar itself (Dice %s): the model "
                    "did not learn them", missed, [round(dice[c], 3) for c in missed])
    return out, dice
