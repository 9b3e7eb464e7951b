from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select
from starlette.background import BackgroundTask

from api import idempotency
from api.deps import CurrentKey, IdempotencyKey, ProjectDep, SessionDep
from api.schemas import MaskInfo, StudiesPublic, StudyPublic
from store import references, render, services, volumes
from store.errors import BadInput, PayloadTooLarge
from store.models import Study
from store.settings import get_settings
from store.storage import get_store

router = APIRouter(prefix="/api/v1/projects/{project_id}/studies", tags=["studies"])


def study_public(session, study: Study) -> StudyPublic:
    fields = {f: getattr(study, f) for f in StudyPublic.model_fields if f not in ("is_exemplar", "has_reference", "mask")}
    out = StudyPublic.model_validate({**fields, "is_exemplar": study.annotation_key is not None,
                                      "has_reference": study.reference_key is not None})
    mask = services.latest_mask(session, study)
    if mask is not None:
        out.mask = MaskInfo(model_id=mask.model_id, confidence=mask.confidence, created_at=mask.created_at)
    return out


def _spool(uploads: list[UploadFile], dest: Path, limit: int) -> tuple[list[tuple[str, Path]], str, int]:
    """Copy uploads to disk in 1 MiB chunks (never whole in RAM); hash and size them."""
    files, total, h = [], 0, hashlib.sha256()
    for i, up in enumerate(sorted(uploads, key=lambda u: u.filename or "")):
        name = Path(up.filename or f"upload{i}").name
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-120:] or "upload"
        path = dest / f"{i:05d}_{safe}"
        with open(path, "wb") as out:
            while chunk := up.file.read(1024 * 1024):
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLarge(f"upload exceeds the limit of {limit} bytes (ELSNET_MAX_UPLOAD_BYTES)")
                h.update(chunk)
                out.write(chunk)
        files.append((name, path))
    if total == 0:
        raise BadInput("the uploaded file is empty")
    return files, h.hexdigest(), total


@router.post("", status_code=201, response_model=StudyPublic, responses={200: {"model": StudyPublic}})
def upload_study(
    project: ProjectDep,
    session: SessionDep,
    key: CurrentKey,
    request: Request,
    file: Annotated[list[UploadFile], File(description="one .nii/.nii.gz, one .zip of a DICOM series, or several .dcm")],
    modality: Annotated[str | None, Form(description="CT or MR (guessed when omitted)")] = None,
    idem: IdempotencyKey = None,
) -> JSONResponse:
    settings = get_settings()
    session.commit()  # no open transaction while the upload is copied (SQLite write concurrency)
    tmp = volumes.scratch_dir(settings.work / "uploads")
    try:
        files, sha, size = _spool(file, tmp, settings.max_upload_bytes)

        def produce():
            study, created = services.add_study(session, project, files, sha, size, modality)
            return (201 if created else 200), study_public(session, study)

        fp = idempotency.fingerprint("POST", request.url.path, {"sha256": sha, "modality": modality})
        return idempotency.run(session, key, idem, fp, produce, after_commit=lambda: services.segment_new_studies(project.id))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@router.get("", response_model=StudiesPublic)
def list_studies(project: ProjectDep, session: SessionDep) -> StudiesPublic:
    studies = session.scalars(select(Study).where(Study.project_id == project.id).order_by(Study.created_at)).all()
    return StudiesPublic(data=[study_public(session, s) for s in studies], count=len(studies))


@router.get("/{study_id}", response_model=StudyPublic)
def read_study(project: ProjectDep, study_id: str, session: SessionDep) -> StudyPublic:
    return study_public(session, services.get_study(session, project, study_id))


def _object_response(key: str, filename: str, media_type: str = "application/gzip") -> FileResponse:
    tmp = volumes.scratch_dir(get_settings().work / "downloads")
    path = get_store().get_to_path(key, tmp / filename)
    return FileResponse(
        path, media_type=media_type, filename=filename,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.delete("/{study_id}", status_code=204)
def delete_study(project: ProjectDep, study_id: str, session: SessionDep) -> Response:
    services.delete_study(session, project, services.get_study(session, project, study_id))
    return Response(status_code=204)


@router.get("/{study_id}/volume", response_class=FileResponse)
def download_volume(project: ProjectDep, study_id: str, session: SessionDep) -> FileResponse:
    study = services.get_study(session, project, study_id)
    return _object_response(study.volume_key, f"{study.name}.nii.gz")


@router.put("/{study_id}/annotation", response_model=StudyPublic)
def put_annotation(
    project: ProjectDep,
    study_id: str,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="NIfTI label map on the study grid: 0 background, project labels, 255 = not annotated")],
) -> StudyPublic:
    settings = get_settings()
    study = services.get_study(session, project, study_id)
    previous = study.annotation_key
    tmp = volumes.scratch_dir(settings.work / "uploads")
    try:
        services.set_annotation(session, project, study, _spool_label_map(file, tmp, "annotation"))
        session.commit()
        services.delete_replaced_version(session, project, study, previous)
        return study_public(session, study)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@router.post("/{study_id}/annotation/from-mask", response_model=StudyPublic)
def annotation_from_mask(
    project: ProjectDep, study_id: str, session: SessionDep, model: Annotated[str | None, Query()] = None
) -> StudyPublic:
    """Start a correction: the study's mask becomes its annotation (it is now an exemplar)."""
    study = services.get_study(session, project, study_id)
    previous = study.annotation_key
    services.annotation_from_mask(session, project, study, model)
    session.commit()
    services.delete_replaced_version(session, project, study, previous)
    return study_public(session, study)


@router.get("/{study_id}/annotation", response_class=FileResponse)
def get_annotation(project: ProjectDep, study_id: str, session: SessionDep) -> FileResponse:
    study = services.get_study(session, project, study_id)
    if not study.annotation_key:
        raise services.NotFound(f"study {study_id} has no annotation; PUT one to make it an exemplar")
    return _object_response(study.annotation_key, f"{study.name}_annotation.nii.gz")


@router.delete("/{study_id}/annotation", status_code=204)
def delete_annotation(project: ProjectDep, study_id: str, session: SessionDep) -> Response:
    study = services.get_study(session, project, study_id)
    previous = study.annotation_key
    study.annotation_key = None
    study.annotated_slices = None
    study.annotated_at = None
    session.commit()
    services.delete_replaced_version(session, project, study, previous)
    return Response(status_code=204)


def _spool_label_map(file: UploadFile, tmp: Path, what: str) -> Path:
    files, _, _ = _spool([file], tmp, get_settings().max_upload_bytes)
    name, path = files[0]
    if not (name.lower().endswith(".nii") or name.lower().endswith(".nii.gz")):
        raise BadInput(f"{what} '{name}' must be a NIfTI file (.nii or .nii.gz)")
    return path


@router.put("/{study_id}/reference", response_model=StudyPublic)
def put_reference(
    project: ProjectDep,
    study_id: str,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="an expert's complete NIfTI label map on the study grid: "
                                                 "0 background, project labels (255 is refused)")],
) -> StudyPublic:
    """Store a reference mask: never used for training, only to measure models (evaluate jobs).
    A refused upload leaves the previous reference in place."""
    study = services.get_study(session, project, study_id)
    previous = study.reference_key
    tmp = volumes.scratch_dir(get_settings().work / "uploads")
    try:
        references.set_reference(session, project, study, _spool_label_map(file, tmp, "reference mask"))
        session.commit()
        services.delete_replaced_version(session, project, study, previous)
        return study_public(session, study)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@router.get("/{study_id}/reference", response_class=FileResponse)
def get_reference(project: ProjectDep, study_id: str, session: SessionDep) -> FileResponse:
    study = services.get_study(session, project, study_id)
    return _object_response(references.require_reference(study), f"{study.name}_reference.nii.gz")


@router.delete("/{study_id}/reference", status_code=204)
def delete_reference(project: ProjectDep, study_id: str, session: SessionDep) -> Response:
    study = services.get_study(session, project, study_id)
    previous = references.require_reference(study)
    references.clear_reference(study)
    session.commit()
    services.delete_replaced_version(session, project, study, previous)
    return Response(status_code=204)


@router.get("/{study_id}/mask", response_class=FileResponse)
def get_mask(
    project: ProjectDep,
    study_id: str,
    session: SessionDep,
    model: Annotated[str | None, Query(description="model version id (default: active, else newest)")] = None,
    format: Annotated[Literal["nifti", "dicom-seg"], Query()] = "nifti",
) -> Response:
    study = services.get_study(session, project, study_id)
    mask = services.pick_mask(session, project, study, model)
    headers = {"X-Model-Id": mask.model_id}
    if format == "dicom-seg":
        from store import export

        data = export.mask_to_dicom_seg(study, mask, project)
        return Response(
            data, media_type="application/dicom",
            headers={**headers, "Content-Disposition": f'attachment; filename="{study.name}_seg.dcm"'},
        )
    resp = _object_response(mask.key, f"{study.name}_mask.nii.gz")
    resp.headers.update(headers)
    return resp


@router.get("/{study_id}/completion", response_class=FileResponse)
def get_completion(
    project: ProjectDep,
    study_id: str,
    session: SessionDep,
    model: Annotated[str | None, Query(description="model version id (default: the newest that completed it)")] = None,
) -> Response:
    """What a training made of this exemplar's painted slices: the label map it trained on, the
    painted voxels as painted and the rest of the study labelled by the random-walk completion
    where it was sure (255 = left unlabelled). NIfTI on the study's grid; X-Model-Id says whose."""
    study = services.get_study(session, project, study_id)
    chosen = services.pick_completion(session, project, study, model)
    resp = _object_response(services.completion_key(chosen.id, study.id), f"{study.name}_completion.nii.gz")
    resp.headers.update({"X-Model-Id": chosen.id})
    return resp


@router.get("/{study_id}/thumbnail.png", response_class=Response)
def thumbnail(
    project: ProjectDep, study_id: str, session: SessionDep, mask: Annotated[bool, Query()] = False,
    size: Annotated[int, Query(ge=32, le=512)] = 160,
) -> Response:
    study = services.get_study(session, project, study_id)
    m = services.latest_mask(session, study) if mask else None
    png = render.thumbnail(study, m, project.colors, size)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=30"})
