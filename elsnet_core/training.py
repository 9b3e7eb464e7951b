"""Training loop pieces: the slice pool, one training stage, checkpoints.

All arrays here live on the working grid: volumes (Z, S, S) float32 in [0, 1], labels
(Z, S, S) uint8 with 255 = ignored.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from elsnet_core.config import ElsnetConfig
from elsnet_core.errors import Cancelled
from elsnet_core.losses import IGNORE, PrototypeContrast, ce_dice_loss
from elsnet_core.synthesis import augment

log = logging.getLogger(__name__)


@dataclass
class Source:
    """One annotated working volume: image (Z, S, S) float32, label (Z, S, S) uint8."""

    image: np.ndarray
    label: np.ndarray
    group: str
    labelled: np.ndarray = field(init=False)  # slice indices with any non-255 pixel
    foreground: np.ndarray = field(init=False)  # slice indices with an organ pixel
    by_class: list[np.ndarray] = field(init=False)  # per organ present: its slice indices

    def __post_init__(self) -> None:
        lab = self.label.reshape(self.label.shape[0], -1)
        known = lab != IGNORE
        organ = (lab > 0) & known
        self.labelled = np.flatnonzero(known.any(axis=1))
        self.foreground = np.flatnonzero(organ.any(axis=1))
        present = np.zeros((lab.shape[0], 256), dtype=bool)
        for z in self.foreground:
            present[z, np.unique(lab[z])] = True
        present[:, 0] = present[:, IGNORE] = False
        self.by_class = [np.flatnonzero(present[:, c]) for c in np.flatnonzero(present.any(0))]

    def pick_slice(self, rng: np.random.Generator, foreground_p: float = 0.85) -> int:
        """A labelled slice index; with ``foreground_p`` one showing an organ chosen
        uniformly among the organs of this volume (class-balanced: small organs such as
        the spleen or the adrenals are seen as often as the liver)."""
        if self.by_class and rng.random() < foreground_p:
            slices = self.by_class[int(rng.integers(len(self.by_class)))]
        else:
            slices = self.labelled
        return int(slices[rng.integers(slices.size)])


class SlicePool:
    """Draws 2.5D training slices from several groups of sources with fixed mixing weights."""

    def __init__(self, context: int, weights: dict[str, float]) -> None:
        self.context = context
        self.weights = weights
        self.sources: dict[str, list[Source]] = {}

    def add(self, source: Source) -> None:
        if source.labelled.size:
            self.sources.setdefault(source.group, []).append(source)

    def groups(self) -> list[str]:
        return [g for g in self.weights if self.sources.get(g) and self.weights[g] > 0]

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns images (n, 2*context+1, S, S) float32 and labels (n, S, S) int64."""
        groups = self.groups()
        if not groups:
            raise RuntimeError("slice pool is empty")
        w = np.array([self.weights[g] for g in groups], dtype=float)
        picks = rng.choice(len(groups), size=n, p=w / w.sum())
        imgs, labs = [], []
        for gi in picks:
            srcs = self.sources[groups[gi]]
            src = srcs[rng.integers(len(srcs))]
            z = src.pick_slice(rng)
            zs = np.clip(np.arange(z - self.context, z + self.context + 1), 0, src.image.shape[0] - 1)
            if rng.random() < 0.5:  # slice-order reversal: lets TTA use the reversed context
                zs = zs[::-1]
            imgs.append(src.image[zs])
            labs.append(src.label[z])
        return (torch.from_numpy(np.stack(imgs)).float(),
                torch.from_numpy(np.stack(labs).astype(np.int64)))


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX).

    Without it, bf16 convolutions are emulated: measured on a 2-core AMD EPYC (Zen 3, AVX2
    only) a fast-preset training step took 14.3 s in bf16 autocast vs 1.8 s in fp32.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - older or exotic builds
        return False


def amp_enabled(device: torch.device, requested: bool) -> bool:
    """Mixed precision only where it pays: any CUDA device, a CPU with native bf16."""
    if not requested:
        return False
    if device.type == "cuda":
        return True
    return device.type == "cpu" and cpu_has_fast_bf16()


def autocast_ctx(device: torch.device, enabled: bool):
    """bf16 autocast (no grad scaler needed) where :func:`amp_enabled` allows, else a no-op."""
    if not amp_enabled(device, enabled):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def lr_at(it: int, total: int, base: float, warmup: int = 20, progress: float | None = None
          ) -> float:
    """Linear warm-up then cosine decay to 5% of ``base``.

    ``progress`` (0..1) overrides ``it / total`` for the decay when larger: a stage that is
    running out of its time budget decays its learning rate on time, not on iterations, so
    a slow machine still ends the stage on a small learning rate.
    """
    if it < warmup:
        return base * (it + 1) / warmup
    t = min(1.0, (it - warmup) / max(1, total - warmup))
    if progress is not None:
        t = max(t, min(1.0, progress))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def _will_overrun(done: int, elapsed_s: float, left: int, time_left_s: float,
                  min_done: int = 10) -> bool:
    """Whether ``left`` more iterations at the pace so far would end after the deadline.

    Decided only after ``min_done`` iterations of this call (the first ones include warm-up
    costs such as memory allocation and would mis-estimate the pace).
    """
    if done < min_done or elapsed_s <= 0:
        return False
    return left * elapsed_s / done > time_left_s


@dataclass
class StageHooks:
    """Callbacks used by :func:`train_stage`."""

    should_stop: Callable[[], bool] = lambda: False
    on_iter: Callable[[int, dict[str, float]], None] = lambda it, m: None
    checkpoint: Callable[[int], None] = lambda it: None
    checkpoint_every_s: float = 30.0
    deadline: float | None = None  # time.monotonic() value after which the stage ends early
    stop_at: int | None = None  # end this call here (a segment of the stage's LR schedule)
    t_start: float | None = None  # when the stage began (time-based LR decay across segments)
    min_iters: int = 0  # the deadline cannot end the stage before this iteration
    after_step: Callable[[], None] = lambda: None  # after each optimiser step (e.g. a weight average)


def train_stage(model: torch.nn.Module, contrast: PrototypeContrast | None, pool: SlicePool,
                cfg: ElsnetConfig, optimizer: torch.optim.Optimizer, iters: int, start: int,
                device: torch.device, seed: int, hooks: StageHooks, *, strong_aug: bool,
                amp: bool, class_weights: torch.Tensor | None = None
                ) -> tuple[int, dict[str, float]]:
    """Run iterations ``start..iters-1`` of one stage. Returns (last iteration + 1, metrics).

    ``class_weights``: per-class CE weights (:func:`elsnet_core.losses.class_balance_weights`).

    Raises Cancelled when ``hooks.should_stop()`` turns True (checked every iteration).
    """
    model.train()
    last_ckpt = time.monotonic()
    metrics: dict[str, float] = {}
    ema: dict[str, float] = {}
    it = start
    t_start = time.monotonic() if hooks.t_start is None else hooks.t_start
    t_call = time.monotonic()
    end = iters if hooks.stop_at is None else min(iters, hooks.stop_at)
    cl = device.type == "cpu"
    while it < end:
        if hooks.should_stop():
            hooks.checkpoint(it)
            raise Cancelled("training cancelled")
        now = time.monotonic()
        time_progress = None
        if hooks.deadline is not None:
            if now > hooks.deadline and it >= hooks.min_iters:
                log.info("time budget reached at iteration %d/%d", it, iters)
                break
            if now > hooks.deadline:
                # the budget was spent before this stage could train: run its minimum anyway,
                # the learning rate decaying over those iterations
                time_progress = (it - start + 1) / max(hooks.min_iters - start, 1)
            elif _will_overrun(it - start, now - t_call, end - it, hooks.deadline - now):
                # decay on time only when the steps left will not fit before the deadline:
                # a run well within its budget keeps the step schedule and so repeats exactly
                # (session 10: taking max(step, time) always made iterations 20-35 of every
                # stage depend on wall-clock time, and runs of one seed differed)
                time_progress = (now - t_start) / max(hooks.deadline - t_start, 1e-6)
        rng = np.random.default_rng([seed, it])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        x, y = pool.sample(cfg.batch_size, rng)
        x, y = x.to(device), y.to(device)
        elastic = 0.03 if strong_aug else 0.015
        x, y = augment(x, y, gen, strong=strong_aug, rotate_deg=cfg.rotate_deg,
                       scale=(cfg.scale_range[0], cfg.scale_range[1]), elastic=elastic,
                       organ_scale=cfg.organ_scale if strong_aug else 1.0)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        lr = lr_at(it, iters, cfg.lr, progress=time_progress)
        for g in optimizer.param_groups:
            g["lr"] = lr
        with autocast_ctx(device, amp):
            if contrast is not None:
                logits, feats = model(x, features=True)
            else:
                logits, feats = model(x), None
        loss, parts = ce_dice_loss(logits, y, cfg.dice_weight, class_weights=class_weights)
        if contrast is not None and feats is not None:
            lc = contrast(feats.float(), y, logits, gen, project=model.project)
            loss = loss + cfg.contrastive_weight * lc
            parts["contrastive"] = float(lc.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        hooks.after_step()
        parts["loss"] = float(loss.detach())
        for k, v in parts.items():
            ema[k] = v if k not in ema else 0.9 * ema[k] + 0.1 * v
        metrics = dict(ema, lr=lr)
        it += 1
        hooks.on_iter(it, metrics)
        if it % 50 == 0:
            log.info("iteration %d/%d loss %.3f (%.2f it/s)", it, iters, metrics["loss"],
                     (it - start) / max(time.monotonic() - t_call, 1e-6))
        if time.monotonic() - last_ckpt > hooks.checkpoint_every_s:
            hooks.checkpoint(it)
            last_ckpt = time.monotonic()
    return it, metrics


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomically write a checkpoint (tensors and plain Python values only)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt / partial file: start over
        log.warning("ignoring unreadable checkpoint %s (%s)", path, exc)
        return None
