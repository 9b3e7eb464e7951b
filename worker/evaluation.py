"""A model's accuracy on reference masks: per-class Dice and HD95 of each study's mask against
its reference, on the study's own grid (``elsnet_core.metrics``), and the JSON document stored
with the model (``Model.evaluation``; shape in docs/API.md).

Pure functions of label maps and ids; worker/pipeline.py fetches the masks and references and
stores the document.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from elsnet_core.metrics import CaseScores, aggregate, evaluate_case


def score_study(pred: np.ndarray, reference: np.ndarray, spacing: Sequence[float], classes: Sequence[int],
                study_id: str = "") -> CaseScores:
    """Dice and HD95 (mm) of every organ of one study.

    Args:
        pred, reference: ``(X, Y, Z)`` integer label maps on the study's grid (the model's mask
            and the expert's complete reference).
        spacing: the study's voxel spacing in mm, one entry per axis.
        classes: the project's organ label values.
    """
    if pred.shape != reference.shape:
        raise ValueError(f"the mask's shape {pred.shape} differs from the reference's {reference.shape}")
    return evaluate_case(pred, reference, spacing, classes, case=study_id)


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def study_record(scores: CaseScores, name: str, reference_at: str | None) -> dict[str, Any]:
    """One study's entry: Dice and HD95 by label value (as text, like the project's labels).

    Dice is None where the organ is in neither mask nor reference; HD95 is None there and where
    the organ is in only one of them (no finite distance; its Dice is then 0)."""
    dice = {str(c): v for c, v in sorted(scores.dice.items())}
    return {
        "study_id": scores.case, "name": name,
        "dice": dice,
        "hd95": {str(c): _finite(v) for c, v in sorted(scores.hd95.items())},
        "mean_dice": _mean([v for v in dice.values() if v is not None]),
        "reference_at": reference_at,
    }


def evaluation_document(
    *, model_id: str, job_id: str, labels: dict[int, str], cases: list[CaseScores], studies: list[dict[str, Any]],
    failed: list[dict[str, Any]], excluded: list[dict[str, Any]], at: datetime,
) -> dict[str, Any]:
    """The evaluation stored with the model. Each organ's Dice is averaged over the studies where
    it is in the mask or the reference, and ``mean_dice`` is the mean over organs (the benchmark
    protocol's aggregation, ``elsnet_core.metrics.aggregate``); HD95 means leave out infinite
    values (an organ in only one of mask and reference), counted in ``hd95_missing``."""
    agg = aggregate(cases, {c: str(c) for c in labels})
    per_dice: dict[str, float | None] = agg["dice"]  # type: ignore[assignment]
    per_hd: dict[str, float | None] = agg["hd95"]  # type: ignore[assignment]
    missing: dict[str, int] = agg["hd95_missing"]  # type: ignore[assignment]
    classes = {
        str(c): {
            "name": name,
            "dice": per_dice[str(c)],
            "hd95": per_hd[str(c)],
            "hd95_missing": int(missing[str(c)]),
            "n_studies": sum(1 for s in cases if s.dice.get(c) is not None),
        }
        for c, name in sorted(labels.items())
    }
    return {
        "model_id": model_id, "job_id": job_id, "evaluated_at": at.isoformat(),
        "n_studies": len(cases),
        "mean_dice": agg["mean_dice"],
        "mean_hd95": agg["mean_hd95"],
        "classes": classes,
        "studies": studies,
        "failed": failed,
        "excluded": excluded,
    }
