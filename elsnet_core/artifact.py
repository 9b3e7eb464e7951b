"""The model artefact folder: ``weights.pt`` (state_dict) + ``config.json`` + ``metrics.json``.

``config.json`` holds ``{"format": 1, "config": ElsnetConfig fields, "plan": {...},
"labels": {"1": "liver", ...}, "seed": int, "elsnet_version": str}``; the plan records what
was derived from the exemplar at fit time (modality, working pixel size, class count).
Weights are read with ``torch.load(weights_only=True)`` and never unpickle objects.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from elsnet_core.config import ElsnetConfig
from elsnet_core.errors import ModelLoadError
from elsnet_core.model import Elsnet, build_elsnet

log = logging.getLogger(__name__)

FORMAT = 1
WEIGHTS = "weights.pt"
CONFIG = "config.json"
METRICS = "metrics.json"


@dataclass(frozen=True)
class Plan:
    """Fit-time decisions needed to preprocess any study like the training data."""

    modality: str  # "CT" | "MR"
    pixel_mm: float  # working in-plane pixel size
    n_classes: int  # including background
    offset_mm: tuple[float, float] = (0.0, 0.0)  # window centre minus body centre (mm)

    def to_dict(self) -> dict[str, Any]:
        return {"modality": self.modality, "pixel_mm": self.pixel_mm, "n_classes": self.n_classes,
                "offset_mm": list(self.offset_mm)}


def elsnet_version() -> str:
    try:
        from importlib.metadata import version

        return version("elsnet")
    except Exception:
        return "0.0.0+unknown"


def save_model(out_dir: Path, model: Elsnet, cfg: ElsnetConfig, plan: Plan,
               labels: dict[int, str], metrics: dict[str, float], seed: int) -> Path:
    """Write the artefact folder; returns it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, out_dir / WEIGHTS)
    meta = {
        "format": FORMAT,
        "config": cfg.to_dict(),
        "plan": plan.to_dict(),
        "labels": {str(k): v for k, v in sorted(labels.items())},
        "seed": seed,
        "elsnet_version": elsnet_version(),
    }
    (out_dir / CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True))
    (out_dir / METRICS).write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return out_dir


def load_model(model_dir: Path, device: torch.device
               ) -> tuple[Elsnet, ElsnetConfig, Plan, dict[int, str], dict[str, Any]]:
    """Read an artefact folder. Raises ModelLoadError with a clear reason on any problem."""
    model_dir = Path(model_dir)
    cfg_path, w_path = model_dir / CONFIG, model_dir / WEIGHTS
    if not cfg_path.exists():
        raise ModelLoadError(f"{model_dir}: missing {CONFIG} (required to load the weights)")
    if not w_path.exists():
        raise ModelLoadError(f"{model_dir}: missing {WEIGHTS}")
    try:
        meta = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{cfg_path}: not valid JSON ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ModelLoadError(f"{cfg_path}: unsupported artefact format {meta.get('format')!r}")
    try:
        cfg = ElsnetConfig.from_dict(meta["config"])
        plan_d = dict(meta["plan"])
        plan_d["offset_mm"] = tuple(plan_d.get("offset_mm", (0.0, 0.0)))
        plan = Plan(**plan_d)
        labels = {int(k): str(v) for k, v in meta["labels"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{cfg_path}: incomplete config ({exc})") from exc
    model = build_elsnet(cfg, plan.n_classes)
    try:
        state = torch.load(w_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:
        raise ModelLoadError(f"{w_path}: weights do not match config.json ({exc})") from exc
    model.to(device).eval()
    return model, cfg, plan, labels, meta
