"""DICOMweb: browse a configured PACS, import a series as a study, send a mask back as DICOM SEG.

Thin wrappers over store/dicomweb.py. Servers are configured by the operator
(``ELSNET_DICOMWEB_SERVERS``) and named in requests; a request never carries a URL.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api import idempotency
from api.deps import CurrentKey, IdempotencyKey, ProjectDep, SessionDep, UnscopedKey
from api.routes.studies import study_public
from api.schemas import (
    DicomwebExport,
    DicomwebExportPublic,
    DicomwebImport,
    DicomwebSeriesPublic,
    DicomwebServersPublic,
    DicomwebStudiesPublic,
    StudyPublic,
)
from store import dicomweb, services, volumes
from store.errors import PayloadTooLarge
from store.settings import get_settings

router = APIRouter(tags=["dicomweb"])


@router.get("/api/v1/dicomweb/servers", response_model=DicomwebServersPublic)
def list_servers(_key: CurrentKey) -> DicomwebServersPublic:
    names = dicomweb.server_names()
    return DicomwebServersPublic(data=names, count=len(names))


@router.get("/api/v1/dicomweb/{server}/studies", response_model=DicomwebStudiesPublic)
def search_studies(
    server: str,
    _key: UnscopedKey,
    patient_id: Annotated[str | None, Query(alias="PatientID")] = None,
    patient_name: Annotated[str | None, Query(alias="PatientName")] = None,
    study_date: Annotated[str | None, Query(alias="StudyDate", description="YYYYMMDD or YYYYMMDD-YYYYMMDD")] = None,
    accession_number: Annotated[str | None, Query(alias="AccessionNumber")] = None,
    modalities: Annotated[str | None, Query(alias="ModalitiesInStudy")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DicomwebStudiesPublic:
    """QIDO-RS study search on a configured server (query keys are DICOM keywords)."""
    given = {"PatientID": patient_id, "PatientName": patient_name, "StudyDate": study_date,
             "AccessionNumber": accession_number, "ModalitiesInStudy": modalities}
    query = {k: v for k, v in given.items() if v}
    found = dicomweb.DicomwebClient.named(server).search_studies(query, limit=limit)
    return DicomwebStudiesPublic(data=found, count=len(found))


@router.get("/api/v1/dicomweb/{server}/studies/{study_uid}/series", response_model=DicomwebSeriesPublic)
def search_series(server: str, study_uid: str, _key: UnscopedKey) -> DicomwebSeriesPublic:
    found = dicomweb.DicomwebClient.named(server).search_series(study_uid)
    return DicomwebSeriesPublic(data=found, count=len(found))


@router.post("/api/v1/projects/{project_id}/studies/dicomweb", status_code=201, response_model=StudyPublic,
             responses={200: {"model": StudyPublic}})
def import_study(project: ProjectDep, body: DicomwebImport, session: SessionDep, key: CurrentKey,
                 request: Request, idem: IdempotencyKey = None) -> JSONResponse:
    """Retrieve one image series from a PACS (WADO-RS) and add it to the project, as an upload
    would: 201 for a new study, 200 when the same instances were imported before."""
    session.commit()  # no open transaction during the retrieval (SQLite write concurrency)

    def produce() -> tuple[int, StudyPublic]:
        study, created = dicomweb.import_series(session, project, body.server, body.study_instance_uid,
                                                body.series_instance_uid, body.modality)
        return (201 if created else 200), study_public(session, study)

    fp = idempotency.fingerprint("POST", request.url.path, body.model_dump())
    return idempotency.run(session, key, idem, fp, produce, after_commit=lambda: services.segment_new_studies(project.id))


@router.post("/api/v1/projects/{project_id}/studies/{study_id}/mask/dicomweb", response_model=DicomwebExportPublic)
def export_mask(project: ProjectDep, study_id: str, body: DicomwebExport, session: SessionDep) -> DicomwebExportPublic:
    """Send the study's mask to a PACS as DICOM SEG (STOW-RS); a study uploaded as NIfTI also
    sends the derived image series the SEG refers to."""
    study = services.get_study(session, project, study_id)
    return DicomwebExportPublic(**dicomweb.export_mask(session, project, study, body.server, body.model))


@router.post("/api/v1/projects/{project_id}/dicomweb/studies", response_class=JSONResponse,
             responses={200: {"description": "all instances stored (DICOM JSON)"},
                        202: {"description": "some instances refused; FailedSOPSequence says which"},
                        409: {"description": "no instance stored"}})
async def stow_studies(project: ProjectDep, session: SessionDep, request: Request) -> JSONResponse:
    """STOW-RS receiver: a PACS pushes studies here (configure it with the DICOMweb address
    ``http(s)://HOST/api/v1/projects/{project_id}/dicomweb`` and an ``Authorization: Bearer``
    header). Each image series becomes a study of the project (the same series again finds the
    existing study); a project with ``auto_segment`` on segments it with its active model.
    The answer is DICOM JSON: ReferencedSOPSequence, FailedSOPSequence, ErrorComment."""
    settings = get_settings()
    ctype = request.headers.get("content-type", "")
    dicomweb.check_stow_content_type(ctype)  # before reading a body that cannot be used
    tmp = volumes.scratch_dir(settings.work / "uploads")
    try:
        body = Path(tmp) / "stow.multipart"
        total = 0
        with open(body, "wb") as out:  # streamed to disk, never whole in memory
            async for chunk in request.stream():
                total += len(chunk)
                if total > settings.max_upload_bytes:
                    raise PayloadTooLarge(f"STOW-RS request exceeds the limit of {settings.max_upload_bytes} bytes "
                                          "(ELSNET_MAX_UPLOAD_BYTES); send fewer instances per request")
                out.write(chunk)
        session.commit()  # no open transaction while the instances are read
        result = await run_in_threadpool(dicomweb.receive_stow, session, project, body, ctype,
                                         lambda: services.segment_new_studies(project.id))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return JSONResponse(result.body, status_code=result.status, media_type="application/dicom+json",
                        headers={"X-Elsnet-Study-Ids": ",".join(result.study_ids)})
