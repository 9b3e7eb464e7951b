"""The cohort's results in one download: a CSV of organ volumes and confidence per study (what a
research team tabulates), and a zip of every study's mask (NIfTI or DICOM SEG) with that CSV.

Each study contributes the mask a single-study download would give (``services.find_mask``:
the given model's, else the active model's, else the newest); a study without one is listed in
the CSV with ``status`` ``no mask`` and left out of the zip. No FastAPI: the API streams what
these functions write.

The zip is built inside the request (``GET .../masks.zip``, for small cohorts) or by an ``export``
job (worker/pipeline.py, progress per study) that stores it under :func:`export_key`, inside the
project's folder of the object store, for ``ELSNET_EXPORT_RETENTION_HOURS``: the workers' reaper
then deletes it (:func:`purge_expired_exports`), and so does deleting the project, or one of its
studies (:func:`expire_project_exports`: the zip may hold the study's mask).
``GET /api/v1/jobs/{id}/download`` streams it (:func:`export_download`).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import services
from store.errors import BadInput, Gone, NotFound
from store.models import Job, Mask, Project, Study, utcnow
from store.settings import get_settings
from store.storage import ObjectStore, get_store

FORMATS = ("nifti", "dicom-seg")
EXPORT_KIND = "export"


@dataclass(frozen=True)
class Row:
    study: Study
    mask: Mask | None


def rows(session: Session, project: Project, model_id: str | None) -> list[Row]:
    """Every study of the project (upload order) with the mask it is exported with, or None."""
    if model_id:
        services.project_model(session, project, model_id)  # 404 before anything is read
    studies = session.scalars(select(Study).where(Study.project_id == project.id).order_by(Study.created_at)).all()
    return [Row(s, services.find_mask(session, project, s, model_id)) for s in studies]


def _label_columns(project: Project) -> list[tuple[str, str]]:
    """(label value, column name) in label order, e.g. ("1", "liver_ml")."""
    return [(v, f"{project.labels[v]}_ml") for v in sorted(project.labels, key=int)]


def safe_stem(name: str, limit: int, fallback: str) -> str:
    """``name`` as a file-name stem: runs of other characters than letters, digits, ``._-`` become
    ``_``; at most ``limit`` characters; ``fallback`` when nothing is left."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:limit] or fallback


def file_name(row: Row, fmt: str) -> str:
    """The mask's name in the zip: the study name made file-safe, its id (names repeat)."""
    safe = safe_stem(row.study.name, 80, "study")
    return f"masks/{safe}__{row.study.id}" + ("_seg.dcm" if fmt == "dicom-seg" else "_mask.nii.gz")


def volumes_csv(project: Project, table: list[Row], fmt: str | None = None) -> str:
    """One row per study: ids, name, exemplar or not, the mask's model, confidence and the
    volume of every organ in millilitres (0 where the mask has none of it); ``mask_file`` names
    the file in the zip when ``fmt`` is given."""
    labels = _label_columns(project)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["study_id", "study_name", "is_exemplar", "status", "model_id", "confidence",
                *(c for _, c in labels), *(["mask_file"] if fmt else [])])
    for r in table:
        ex = "yes" if r.study.annotation_key else "no"
        if r.mask is None:
            w.writerow([r.study.id, r.study.name, ex, "no mask", "", "", *([""] * len(labels)), *([""] if fmt else [])])
            continue
        vols = {str(k): float(v) for k, v in (r.mask.class_volumes_ml or {}).items()}
        conf = "" if r.mask.confidence is None else f"{r.mask.confidence:.4f}"
        w.writerow([r.study.id, r.study.name, ex, "segmented", r.mask.model_id, conf,
                    *(f"{vols.get(v, 0.0):.2f}" for v, _ in labels), *([file_name(r, fmt)] if fmt else [])])
    return out.getvalue()


def zip_name(project: Project) -> str:
    """The zip's file name as a download: ``<project name>_masks.zip``."""
    return f"{safe_stem(project.name, 60, 'project')}_masks.zip"


def no_masks_message(project: Project, model_id: str | None) -> str:
    return (f"no study of project {project.id} has a mask" + (f" by model {model_id}" if model_id else "")
            + ": train a model (POST /api/v1/projects/{id}/jobs {\"kind\": \"train\"}) or run an infer job first")


def write_zip(project: Project, table: list[Row], fmt: str, dest: Path,
              progress: Callable[[int, int, Row], None] | None = None) -> Path:
    """``dest``: a zip of every mask in ``table`` (stored as is: NIfTI is gzipped already) and
    ``volumes.csv``. ``progress(done, total, row)`` is called after each mask is written (``total``:
    the masks to write); an exception it raises (e.g. a cancellation) stops the zip there."""
    from store import export  # highdicom, only for DICOM SEG

    store = get_store()
    todo = [(r, r.mask) for r in table if r.mask is not None]
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("volumes.csv", volumes_csv(project, table, fmt), compress_type=zipfile.ZIP_DEFLATED)
        for done, (r, mask) in enumerate(todo, start=1):
            if fmt == "dicom-seg":
                zf.writestr(file_name(r, fmt), export.mask_to_dicom_seg(r.study, mask, project),
                            compress_type=zipfile.ZIP_DEFLATED)
            else:
                local = store.get_to_path(mask.key, dest.parent / f"{r.study.id}.nii.gz")
                zf.write(local, file_name(r, fmt))
                local.unlink()
            if progress is not None:
                progress(done, len(todo), r)
    return dest


# the export job -----------------------------------------------------------------------------
def export_params(session: Session, project: Project, params: dict[str, Any]) -> dict[str, Any]:
    """The checked parameters of an ``export`` job: ``format`` (default ``nifti``) and, optionally,
    ``model_id`` (else per study the mask ``GET .../mask`` gives). Refused before anything is queued
    when no study has a mask (the GET's 404 message, as a 422: nothing to export, like the other
    kinds' refusals) and for a model not in the project (404)."""
    fmt = str(params.get("format") or "nifti")
    if fmt not in FORMATS:
        raise BadInput(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    model_id = str(params.get("model_id") or "") or None
    q = select(Mask.id).join(Study, Mask.study_id == Study.id).where(Study.project_id == project.id)
    if model_id:
        q = q.where(Mask.model_id == services.project_model(session, project, model_id).id)
    if session.scalar(q.limit(1)) is None:  # the GET's rule: some study has a mask (the chosen model's)
        raise BadInput(no_masks_message(project, model_id))
    return {"format": fmt, **({"model_id": model_id} if model_id else {})}


def export_key(project_id: str, job_id: str) -> str:
    """Where an export job's zip is stored: in the project's folder (it goes with the project)."""
    return f"projects/{project_id}/exports/{job_id}.zip"


def export_document(project: Project, table: list[Row], fmt: str, size: int, sha256: str,
                    now: datetime | None = None) -> dict[str, Any]:
    """What a finished export job stores in its metrics (docs/API.md, "Jobs")."""
    expires = (now or utcnow()) + timedelta(hours=get_settings().export_retention_hours)
    return {"format": fmt, "n_studies": len(table), "n_masks": sum(r.mask is not None for r in table),
            "bytes": size, "sha256": sha256, "file_name": zip_name(project), "expires_at": expires.isoformat()}


def expires_at(job: Job) -> datetime | None:
    """When a succeeded export's zip is deleted (its metrics say; else its end + the retention)."""
    stamp = (job.metrics or {}).get("expires_at")
    if stamp:
        return datetime.fromisoformat(stamp)
    if job.finished_at is None:
        return None
    return job.finished_at + timedelta(hours=get_settings().export_retention_hours)


def is_expired(job: Job, now: datetime | None = None) -> bool:
    """A succeeded export whose zip is gone or due to go."""
    if (job.metrics or {}).get("expired_at"):
        return True
    end = expires_at(job)
    return end is not None and (now or utcnow()) >= end


def _again(job: Job) -> str:
    fmt = (job.params or {}).get("format", "nifti")
    return (f'prepare a new one: POST /api/v1/projects/{job.project_id}/jobs {{"kind": "export", "format": "{fmt}"}}')


def export_download(job: Job, now: datetime | None = None) -> tuple[str, str, int]:
    """(object key, file name, bytes) of a finished export job's zip, or a 404 saying when there
    will be one (other kinds, not finished, failed) or a 410 when it was deleted (expired)."""
    if job.kind != EXPORT_KIND:
        raise NotFound(f"job {job.id} is a {job.kind} job: only export jobs have a download "
                       f'(POST /api/v1/projects/{job.project_id}/jobs {{"kind": "export"}})')
    if job.state in ("queued", "running"):
        raise NotFound(f"export job {job.id} is {job.state} ({round(100 * (job.progress or 0))} %): the zip is not "
                       f"ready yet; follow GET /api/v1/jobs/{job.id} and download when its state is succeeded")
    if job.state != "succeeded":
        raise NotFound(f"export job {job.id} {job.state}" + (f" ({job.error})" if job.error else "")
                       + f" and made no zip: {_again(job)}")
    if is_expired(job, now):
        raise gone(job)
    m = job.metrics or {}
    return export_key(job.project_id, job.id), str(m.get("file_name") or "masks.zip"), int(m.get("bytes") or 0)


def gone(job: Job) -> Gone:
    m = job.metrics or {}
    when = m.get("expired_at") or m.get("expires_at") or "its expiry"
    why = m.get("expired_reason") or (
        f"exports are kept {get_settings().export_retention_hours:g} h after they finish (ELSNET_EXPORT_RETENTION_HOURS)")
    return Gone(f"the zip of export job {job.id} is no longer kept (removed {when}: {why}); {_again(job)}")


def _mark_expired(job: Job, reason: str, now: datetime) -> None:
    job.metrics = {**(job.metrics or {}), "expired_at": now.isoformat(), "expired_reason": reason}


def purge_expired_exports(session: Session, store: ObjectStore, now: datetime | None = None) -> int:
    """Delete the zips of succeeded export jobs past their ``expires_at``, and say so in their
    metrics (``expired_at``); returns how many went. The object goes first: if marking the job
    fails, the next call deletes nothing and marks it (a download meanwhile answers 410)."""
    now = now or utcnow()
    done = 0
    for job in session.scalars(select(Job).where(Job.kind == EXPORT_KIND, Job.state == "succeeded")):
        if (job.metrics or {}).get("expired_at") or not is_expired(job, now):
            continue
        store.delete_prefix(export_key(job.project_id, job.id))
        _mark_expired(job, f"kept {get_settings().export_retention_hours:g} h (ELSNET_EXPORT_RETENTION_HOURS)", now)
        done += 1
    return done


def expire_project_exports(session: Session, project_id: str, reason: str) -> list[str]:
    """Mark the project's downloadable export zips expired (``reason``); returns their keys, to
    delete after the commit (a deleted study's mask must not stay downloadable in a zip)."""
    now = utcnow()
    keys = []
    for job in session.scalars(select(Job).where(Job.project_id == project_id, Job.kind == EXPORT_KIND,
                                                 Job.state == "succeeded")):
        if not (job.metrics or {}).get("expired_at"):
            _mark_expired(job, reason, now)
            keys.append(export_key(project_id, job.id))
    return keys
