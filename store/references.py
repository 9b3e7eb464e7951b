"""Reference masks (an expert's complete label maps, never used for training) and which of them
an evaluation of a model may use (no HTTP, no torch).

A study's reference is validated like an annotation (same grid, the project's label values) but
must label every voxel: 255 ("not annotated") is refused. An evaluation measures a model on the
studies with a reference, except those the model was trained on as exemplars: their score would
measure training data. The worker computes evaluations (worker/evaluation.py); their JSON shape
is documented in docs/API.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import services, volumes
from store.errors import BadInput, NotFound
from store.models import Model, Project, Study, new_id, utcnow
from store.settings import get_settings
from store.storage import get_store


def set_reference(session: Session, project: Project, study: Study, upload: Path) -> Study:
    """Validate ``upload`` against the study and store it as the study's reference (a new object
    per version: the previous reference stays in place until the row points at the new one, so a
    refused upload changes nothing; after the commit the caller deletes it with
    ``services.delete_replaced_version``)."""
    work = volumes.scratch_dir(get_settings().work / "uploads")
    try:
        out = work / "reference.nii.gz"
        volumes.validate_annotation(
            upload, study.shape, study.affine, {int(k) for k in project.labels}, out,
            what="reference mask", complete=True,
        )
        labels = np.asanyarray(volumes.load_nifti(out, "the reference mask").dataobj)
        counts = np.bincount(labels.ravel(), minlength=1)
        key = f"projects/{project.id}/studies/{study.id}/reference/{new_id()}.nii.gz"
        get_store().put_file(key, out)
        study.reference_key = key
        study.reference_at = utcnow()
        study.reference_voxels = {str(v): int(n) for v, n in enumerate(counts) if n}
        return study
    finally:
        shutil.rmtree(work, ignore_errors=True)


def clear_reference(study: Study) -> None:
    """The study is no longer evaluated on (after the commit the caller deletes the stored
    version with ``services.delete_replaced_version``)."""
    study.reference_key = None
    study.reference_at = None
    study.reference_voxels = None


def require_reference(study: Study) -> str:
    if not study.reference_key:
        raise NotFound(
            f"study {study.id} has no reference mask; PUT one (a complete expert label map on the "
            "study's grid) to measure models on it"
        )
    return study.reference_key


def reference_studies(session: Session, project_id: str) -> list[Study]:
    q = select(Study).where(Study.project_id == project_id, Study.reference_key.is_not(None))
    return list(session.scalars(q.order_by(Study.created_at)))


def exclusion_reason(model: Model, study: Study) -> str | None:
    """Why an evaluation of ``model`` must not use ``study``'s reference, or None when it may.

    A model records the exemplars it was trained on (``exemplar_study_ids``); a model without
    that record ("unknown") excludes every study annotated now, which may have been one."""
    trained_on = model.exemplar_study_ids or None
    if trained_on is None:
        if study.annotation_key:
            return ("the study is annotated (an exemplar) and the model does not record which exemplars "
                    "it was trained on: its score could measure training data, not accuracy")
        return None
    if study.id in trained_on:
        return "exemplar the model was trained on: its score would measure training data, not accuracy"
    return None


def evaluation_params(session: Session, project: Project, model_id: str | None) -> dict[str, Any]:
    """The checked parameters of an ``evaluate`` job of ``model_id`` (None: the project has no model)."""
    if not model_id:
        raise BadInput("the project has no model yet: run a train job first, then evaluate it")
    services.project_model(session, project, model_id)
    if not reference_studies(session, project.id):
        raise BadInput(
            "no study of the project has a reference mask: upload an expert's complete label map of one "
            f"or more studies first (PUT /api/v1/projects/{project.id}/studies/{{study_id}}/reference)"
        )
    return {"model_id": model_id}


def summary(model: Model) -> dict[str, Any] | None:
    """The short form shown with a model: mean Dice, studies scored, when; None if never evaluated."""
    ev = model.evaluation
    if not ev:
        return None
    return {"mean_dice": ev.get("mean_dice"), "n_studies": int(ev.get("n_studies") or 0),
            "n_excluded": len(ev.get("excluded") or []), "evaluated_at": ev.get("evaluated_at")}


def require_evaluation(model: Model) -> dict[str, Any]:
    if not model.evaluation:
        raise NotFound(
            f"model {model.id} was never evaluated: upload reference masks (an expert's complete label "
            f"maps; PUT /api/v1/projects/{model.project_id}/studies/{{study_id}}/reference) of studies it was "
            f"not trained on, then POST a job {{\"kind\": \"evaluate\", \"model_id\": \"{model.id}\"}} to "
            f"/api/v1/projects/{model.project_id}/jobs (a training evaluates its model by itself when the "
            "project has reference masks)"
        )
    return model.evaluation
