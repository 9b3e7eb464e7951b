"""Operations on projects, studies, annotations, jobs and models (no HTTP, no torch).

The API's routes are thin wrappers over these; raising store.errors classes for bad input.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import volumes
from store.db import session_scope
from store.errors import BadInput, Conflict, NotFound, Unavailable
from store.jobs import TERMINAL, request_cancel
from store.models import Job, Mask, Model, Project, Study, new_id, utcnow
from store.queue import enqueue_job
from store.settings import get_settings
from store.storage import get_store

log = logging.getLogger(__name__)

PRESETS = ("tiny", "fast", "full")
MAX_IMPORT_STUDIES = 500
DEFAULT_COLORS = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000",
]


# projects -------------------------------------------------------------------
def normalise_labels(labels: dict[str, str]) -> dict[str, str]:
    if not labels:
        raise BadInput("labels must name at least one organ, e.g. {\"1\": \"liver\"}")
    out: dict[str, str] = {}
    for k, v in labels.items():
        try:
            value = int(k)
        except (TypeError, ValueError):
            raise BadInput(f"label key {k!r} is not an integer; use {{\"1\": \"liver\", ...}}") from None
        if not 1 <= value <= 254:
            raise BadInput(f"label value {value} out of range; organ labels are 1..254 (0 = background, 255 = not annotated)")
        if not str(v).strip():
            raise BadInput(f"label {value} has an empty name")
        out[str(value)] = str(v).strip()
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))


def create_project(session: Session, name: str, labels: dict[str, str], colors: dict[str, str] | None, auto_segment: bool) -> Project:
    labels = normalise_labels(labels)
    cols = {k: DEFAULT_COLORS[(int(k) - 1) % len(DEFAULT_COLORS)] for k in labels}
    for k, c in (colors or {}).items():
        if k not in labels:
            raise BadInput(f"colour given for label {k!r}, which is not one of the project's labels")
        cols[k] = c
    project = Project(name=name.strip(), labels=labels, colors=cols, auto_segment=auto_segment)
    session.add(project)
    session.flush()
    return project


def get_project(session: Session, project_id: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return project


def list_projects(session: Session, only: list[str] | None = None) -> list[Project]:
    """Newest first; ``only``: just these projects (a scoped API key), None = all."""
    q = select(Project).order_by(Project.created_at.desc())
    if only is not None:
        q = q.where(Project.id.in_(only))
    return list(session.scalars(q))


def study_count(session: Session, project_id: str) -> int:
    return int(session.scalar(select(func.count()).select_from(Study).where(Study.project_id == project_id)) or 0)


def update_project(session: Session, project: Project, changes: dict[str, Any]) -> Project:
    if "active_model_id" in changes:
        mid = changes["active_model_id"]
        if mid is not None:
            project_model(session, project, mid)
        project.active_model_id = mid
    if changes.get("auto_segment") is not None:
        project.auto_segment = bool(changes["auto_segment"])
    if changes.get("colors"):
        for k, _c in changes["colors"].items():
            if k not in project.labels:
                raise BadInput(f"colour given for label {k!r}, which is not one of the project's labels")
        project.colors = {**project.colors, **changes["colors"]}
    return project


# studies --------------------------------------------------------------------
def get_study(session: Session, project: Project, study_id: str) -> Study:
    study = session.get(Study, study_id)
    if study is None or study.project_id != project.id:
        raise NotFound(f"study {study_id} not found in project {project.id}")
    return study


def _study_by_hash(session: Session, project: Project, sha256: str) -> Study | None:
    return session.scalar(select(Study).where(Study.project_id == project.id, Study.sha256 == sha256))


def add_study(
    session: Session, project: Project, files: list[tuple[str, Path]], sha256: str, size: int, modality: str | None,
    name: str | None = None,
) -> tuple[Study, bool]:
    """Ingest an upload; returns (study, created). Same bytes again -> the existing study, and
    so do the same DICOM instances sent again in any other packaging (a zip, loose files, a PACS
    import or push): a DICOM study is stored under its series' UID identity
    (``volumes.IngestedVolume.dicom_identity``), a NIfTI study under the hash of its bytes.
    ``name``: the study's display name (default: from the file name or the DICOM header)."""
    existing = _study_by_hash(session, project, sha256)
    if existing is not None:
        return existing, False
    # End the read transaction before the long ingestion: on SQLite an open read snapshot
    # cannot later be upgraded to a write if another upload committed meanwhile.
    session.commit()
    settings = get_settings()
    work = volumes.scratch_dir(settings.work / "uploads")
    try:
        vol = volumes.ingest_upload(files, work, modality=modality, max_bytes=settings.max_upload_bytes)
        if vol.dicom_identity is not None:
            sha256 = vol.dicom_identity
            existing = _study_by_hash(session, project, sha256)
            if existing is not None:
                return existing, False
        study_id = new_id()
        prefix = f"projects/{project.id}/studies/{study_id}"
        store = get_store()
        originals = []
        for i, (file_name, path) in enumerate(files):
            key = f"{prefix}/original/{i:04d}_{Path(file_name).name or 'upload'}"
            store.put_file(key, path)
            originals.append(key)
        store.put_file(f"{prefix}/volume.nii.gz", vol.path)
        study = Study(
            id=study_id, project_id=project.id, name=name or vol.name, modality=vol.modality,
            source_format=vol.source_format, shape=list(vol.shape), spacing=list(vol.spacing),
            affine=vol.affine, sha256=sha256, size_bytes=size, original_keys=originals,
            volume_key=f"{prefix}/volume.nii.gz",
        )
        session.add(study)
        try:
            session.flush()
        except IntegrityError:  # a concurrent upload of the same bytes won the race
            session.rollback()
            store.delete_prefix(prefix)
            winner = _study_by_hash(session, project, sha256)
            if winner is None:
                raise
            return winner, False
        return study, True
    finally:
        shutil.rmtree(work, ignore_errors=True)


def set_annotation(session: Session, project: Project, study: Study, upload: Path) -> Study:
    settings = get_settings()
    work = volumes.scratch_dir(settings.work / "uploads")
    try:
        out = work / "annotation.nii.gz"
        n_slices = volumes.validate_annotation(
            upload, study.shape, study.affine, {int(k) for k in project.labels}, out
        )
        # a new object per version: the previous annotation stays intact until the row points here
        # (committed by the caller, who then deletes it: delete_replaced_version)
        key = f"projects/{project.id}/studies/{study.id}/annotation/{new_id()}.nii.gz"
        get_store().put_file(key, out)
        study.annotation_key = key
        study.annotated_slices = n_slices
        study.annotated_at = utcnow()
        return study
    finally:
        shutil.rmtree(work, ignore_errors=True)


def annotation_from_mask(session: Session, project: Project, study: Study, model_id: str | None) -> Study:
    mask = pick_mask(session, project, study, model_id)
    settings = get_settings()
    work = volumes.scratch_dir(settings.work / "uploads")
    try:
        path = get_store().get_to_path(mask.key, work / "mask.nii.gz")
        return set_annotation(session, project, study, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def project_model(session: Session, project: Project, model_id: str) -> Model:
    """Model ``model_id`` of ``project``, or a 404."""
    model = session.get(Model, model_id)
    if model is None or model.project_id != project.id:
        raise NotFound(f"model {model_id} not found in project {project.id}")
    return model


def find_mask(session: Session, project: Project, study: Study, model_id: str | None) -> Mask | None:
    """The mask of ``study`` by model ``model_id`` (checked to be the project's), or by default
    the active model's, else the newest; None when there is none."""
    q = select(Mask).where(Mask.study_id == study.id)
    if model_id:
        return session.scalar(q.where(Mask.model_id == project_model(session, project, model_id).id))
    if project.active_model_id:
        mask = session.scalar(q.where(Mask.model_id == project.active_model_id))
        if mask is not None:
            return mask
    return session.scalar(q.order_by(Mask.created_at.desc()))


def pick_mask(session: Session, project: Project, study: Study, model_id: str | None) -> Mask:
    """:func:`find_mask`, or a 404 that says what to run."""
    mask = find_mask(session, project, study, model_id)
    if mask is None and model_id:
        raise NotFound(f"model {model_id} has not segmented study {study.id}; run an infer job with it")
    if mask is None:
        raise NotFound(
            f"study {study.id} has no mask yet: train a model (POST /api/v1/projects/{project.id}/jobs) "
            "or run an infer job, then poll the job until it succeeds"
        )
    return mask


def completion_key(model_id: str, study_id: str) -> str:
    """Object key of the label a model trained on for an exemplar annotated on a few slices:
    the painted slices carried into the whole study (random-walk completion), 255 = unsure."""
    return f"models/{model_id}/completion/{study_id}.nii.gz"


def _completed(model: Model, study: Study) -> bool:
    return study.id in (model.metrics or {}).get("completed_exemplars", [])


def pick_completion(session: Session, project: Project, study: Study, model_id: str | None) -> Model:
    """The model whose training completed ``study``'s slice annotation (given, else newest)."""
    if model_id:
        model = project_model(session, project, model_id)
        if not _completed(model, study):
            raise NotFound(
                f"model {model_id} did not complete study {study.id}: only exemplars annotated on "
                "some slices (not every slice) are completed, by the training that used them"
            )
        return model
    for model in session.scalars(
        select(Model).where(Model.project_id == project.id).order_by(Model.created_at.desc())
    ):
        if _completed(model, study):
            return model
    raise NotFound(
        f"no training has completed a slice annotation of study {study.id} yet: annotate one or a "
        f"few of its slices (PUT .../studies/{study.id}/annotation) and train "
        f"(POST /api/v1/projects/{project.id}/jobs)"
    )


def latest_mask(session: Session, study: Study) -> Mask | None:
    return session.scalar(select(Mask).where(Mask.study_id == study.id).order_by(Mask.created_at.desc()))


# jobs -----------------------------------------------------------------------
def create_job(session: Session, project: Project, kind: str, params: dict[str, Any]) -> Job:
    if kind == "train":
        preset = params.get("preset") or "fast"
        if preset not in PRESETS:
            raise BadInput(f"preset must be one of {list(PRESETS)}, got {preset!r}")
        n_ex = session.scalar(
            select(func.count()).select_from(Study).where(Study.project_id == project.id, Study.annotation_key.is_not(None))
        )
        if not n_ex:
            raise BadInput(
                "the project has no exemplar yet: annotate one study first "
                "(PUT /api/v1/projects/{project_id}/studies/{study_id}/annotation)"
            )
        clean: dict[str, Any] = {"preset": preset, "seed": int(params.get("seed") or 0)}
    elif kind == "infer":
        model_id = params.get("model_id") or project.active_model_id or newest_model_id(session, project.id)
        if not model_id:
            raise BadInput("the project has no model yet: run a train job first")
        project_model(session, project, model_id)
        study_ids = params.get("study_ids")
        if not study_ids:
            study_ids = [s.id for s in session.scalars(select(Study).where(Study.project_id == project.id))]
        for sid in study_ids:
            get_study(session, project, sid)
        clean = {"model_id": model_id, "study_ids": list(study_ids)}
    elif kind == "import":
        from store import dicomweb

        server = params.get("server")
        if not server:
            raise BadInput("an import job needs 'server': the name of a configured DICOMweb server "
                           "(GET /api/v1/dicomweb/servers)")
        dicomweb.get_server(str(server))
        refs = params.get("studies") or []
        if not refs:
            raise BadInput("an import job needs 'studies': [{\"study_instance_uid\": ...}, ...] "
                           "(find them with GET /api/v1/dicomweb/{server}/studies)")
        if len(refs) > MAX_IMPORT_STUDIES:
            raise BadInput(f"at most {MAX_IMPORT_STUDIES} studies per import job, got {len(refs)}; split it")
        studies = []
        for ref in refs:
            study_uid = dicomweb.check_uid(str(ref.get("study_instance_uid") or ""), "study_instance_uid")
            series = ref.get("series_instance_uid")
            studies.append({"study_instance_uid": study_uid, "series_instance_uid":
                            dicomweb.check_uid(str(series), "series_instance_uid") if series else None})
        clean = {"server": str(server), "studies": studies}
    elif kind == "evaluate":
        from store import references

        model_id = params.get("model_id") or project.active_model_id or newest_model_id(session, project.id)
        clean = references.evaluation_params(session, project, model_id)
    elif kind == "rank":
        from store import exemplars

        clean = exemplars.rank_params(session, project, params)
    elif kind == "export":
        from store import cohort

        clean = cohort.export_params(session, project, params)
    else:
        raise BadInput(f"kind must be 'train', 'infer', 'import', 'evaluate', 'rank' or 'export', got {kind!r}")
    job = Job(project_id=project.id, kind=kind, params=clean, state="queued", model_id=clean.get("model_id"))
    session.add(job)
    session.flush()
    return job


def segment_new_studies(project_id: str) -> Job | None:
    """When the project asks for it (``auto_segment``), segment its studies that the active
    model has not segmented yet: an infer job is created, committed and sent. Returns it."""
    with session_scope() as s:
        project = s.get(Project, project_id)
        if project is None or not project.auto_segment:
            return None
        model_id = project.active_model_id or newest_model_id(s, project_id)
        if not model_id:
            return None
        done = set(s.scalars(select(Mask.study_id).where(Mask.model_id == model_id)))
        todo = [st.id for st in s.scalars(select(Study).where(Study.project_id == project_id)) if st.id not in done]
        if not todo:
            return None
        job = create_job(s, project, "infer", {"model_id": model_id, "study_ids": todo})
        s.commit()
        submit(job)
        return job


def submit(job: Job) -> None:
    """Send a committed job to its queue (call after the commit)."""
    enqueue_job(job.id, job.kind, job.attempts + 1)


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def cancel_job(session: Session, job: Job) -> Job:
    # lock the row (PostgreSQL) and read it again: a worker finishing the job at this moment
    # either committed first (then this is a 409) or waits for this cancel to commit
    session.refresh(job, with_for_update=True)
    if job.state in TERMINAL and job.state != "cancelled":
        raise Conflict(f"job {job.id} already {job.state}; only queued or running jobs can be cancelled")
    request_cancel(session, job)
    return job


def newest_model_id(session: Session, project_id: str) -> str | None:
    return session.scalar(select(Model.id).where(Model.project_id == project_id).order_by(Model.created_at.desc()))


def get_model(session: Session, model_id: str) -> Model:
    model = session.get(Model, model_id)
    if model is None:
        raise NotFound(f"model {model_id} not found")
    return model


# deletion -------------------------------------------------------------------
# Order: collect the object keys, delete the rows and commit, then delete the objects. If the
# process dies in between, the objects are orphans (unreachable through the API, harmless);
# the reverse order could leave a row that points at deleted objects (a study whose volume is
# gone). A worker still winding down a job cancelled just before (it checks for cancellation
# between steps) may likewise leave an orphan object, never a row: its inserts then fail on the
# foreign keys. `elsnet storage-check` (store/housekeeping.py) finds such orphans and removes them.
def _lock_project(session: Session, project: Project) -> None:
    """Hold the project row until the commit. On PostgreSQL a concurrent job insert takes a key
    share lock on it (foreign key), so that job is either committed and seen by the checks that
    follow, or waits until the deletion has committed."""
    session.scalar(select(Project.id).where(Project.id == project.id).with_for_update())


def _active_jobs(session: Session, project_id: str) -> list[Job]:
    q = select(Job).where(Job.project_id == project_id, Job.state.not_in(TERMINAL)).order_by(Job.created_at)
    return list(session.scalars(q))


def uses_study(job: Job, study_id: str) -> bool:
    """Whether ``job`` (queued or running) may read the study's rows and files."""
    if job.kind in ("infer", "rank"):
        return study_id in (job.params or {}).get("study_ids", [])
    return True  # train, evaluate and export jobs read every study of their project


def _wait_or_cancel(job: Job) -> str:
    return f"cancel it (POST /api/v1/jobs/{job.id}/cancel) or wait until it ends, then delete again"


def _delete_objects(what: str, prefixes: list[str], keys: list[str]) -> None:
    """Remove folders (``prefixes``) and single objects (``keys``) outside them, after the commit."""
    todo = prefixes + sorted({k for k in keys if k and not any(k.startswith(p) for p in prefixes)})
    store = get_store()
    failed = []
    for key in todo:
        try:
            store.delete_prefix(key)
        except Exception:  # the rows are gone already: report what is left, do not hide it
            log.exception("%s: could not delete %s from object storage", what, key)
            failed.append(key)
    if failed:
        raise Unavailable(
            f"{what} was deleted, but object storage did not remove {len(failed)} of its objects "
            f"({', '.join(failed[:5])}{', ...' if len(failed) > 5 else ''}); they are unreachable "
            "through the API: `elsnet storage-check --delete` removes them (objects no row reaches)"
        )


def delete_replaced_version(session: Session, project: Project, study: Study, old_key: str | None) -> None:
    """After the commit that replaced or removed ``study``'s annotation or reference: delete the
    version ``old_key`` it pointed at before. Nothing else names a version (a model records the
    ids of its exemplar studies, an audit event the request path). Best effort, logged: kept
    while a queued or running job may read the study (a training reads the annotations its study
    rows named when it started) and on a storage error; `elsnet storage-check` removes it later."""
    if not old_key or old_key in (study.annotation_key, study.reference_key):
        return
    if not old_key.startswith(f"projects/{project.id}/studies/{study.id}/"):
        return
    busy = [job for job in _active_jobs(session, project.id) if uses_study(job, study.id)]
    if busy:
        log.info("study %s: kept its replaced version %s while %s job %s may read it "
                 "(`elsnet storage-check` finds it afterwards)", study.id, old_key, busy[0].kind, busy[0].id)
        return
    try:
        get_store().delete_prefix(old_key)
    except Exception:  # the row points at the new version already: report what is left, do not fail
        log.exception("study %s: could not delete its replaced version %s from object storage "
                      "(`elsnet storage-check --delete` removes it)", study.id, old_key)


def delete_study(session: Session, project: Project, study: Study) -> None:
    """Delete a study, its masks and all its objects (volume, originals, annotations, masks,
    training completions). Models trained with it stay (immutable versions): their
    ``exemplar_study_ids`` may name it afterwards. Commits."""
    _lock_project(session, project)
    for job in _active_jobs(session, project.id):
        if uses_study(job, study.id):
            raise Conflict(
                f"study {study.id} is in use by {job.kind} job {job.id} ({job.state}): {_wait_or_cancel(job)}"
            )
    model_ids = session.scalars(select(Model.id).where(Model.project_id == project.id)).all()
    prefixes = [f"projects/{project.id}/studies/{study.id}/", f"masks/{study.id}/"]
    keys = [study.volume_key, study.annotation_key or "", *study.original_keys]
    keys += session.scalars(select(Mask.key).where(Mask.study_id == study.id)).all()
    keys += [completion_key(mid, study.id) for mid in model_ids]
    from store import cohort  # the project's prepared cohort zips may hold this study's mask

    keys += cohort.expire_project_exports(session, project.id, f"study {study.id} was deleted")
    session.delete(study)  # masks follow (ON DELETE CASCADE)
    session.commit()
    log.info("deleted study %s of project %s", study.id, project.id)
    _delete_objects(f"study {study.id}", prefixes, keys)


def delete_project(session: Session, project: Project) -> None:
    """Delete a project with its studies, masks, models, jobs and events, and all their objects.
    Commits."""
    _lock_project(session, project)
    active = _active_jobs(session, project.id)
    if active:
        job = active[0]
        raise Conflict(
            f"project {project.id} has {len(active)} queued or running job(s), e.g. {job.kind} job "
            f"{job.id} ({job.state}): {_wait_or_cancel(job)}"
        )
    study_ids = session.scalars(select(Study.id).where(Study.project_id == project.id)).all()
    models = session.scalars(select(Model).where(Model.project_id == project.id)).all()
    jobs = session.scalars(select(Job).where(Job.project_id == project.id)).all()
    # a training that failed or was cancelled before registering its model may have left objects
    pending = {str(j.params["pending_model_id"]) for j in jobs if (j.params or {}).get("pending_model_id")}
    prefixes = [f"projects/{project.id}/"]
    prefixes += [f"masks/{sid}/" for sid in study_ids]
    prefixes += [f"models/{mid}/" for mid in sorted({m.id for m in models} | pending)]
    keys = [m.artifact_key for m in models]
    keys += session.scalars(select(Mask.key).join(Study, Mask.study_id == Study.id).where(Study.project_id == project.id)).all()
    session.delete(project)  # studies, masks, models, jobs and events follow (ON DELETE CASCADE)
    session.commit()
    log.info("deleted project %s (%d studies, %d models)", project.id, len(study_ids), len(models))
    _delete_objects(f"project {project.id}", prefixes, keys)
