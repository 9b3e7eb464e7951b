"""The cohort's results in one download: organ volumes as CSV, every mask in a zip."""

from __future__ import annotations

import shutil
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from api.deps import ProjectDep, SessionDep
from store import cohort, volumes
from store.errors import NotFound
from store.models import Project
from store.settings import get_settings

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["exports"])
ModelQuery = Annotated[str | None, Query(description="model version id (default: per study the active model's mask, else the newest)")]


def _stem(project: Project) -> str:
    return cohort.safe_stem(project.name, 60, "project")


@router.get("/volumes.csv", response_class=Response)
def volumes_csv(project: ProjectDep, session: SessionDep, model: ModelQuery = None) -> Response:
    """Organ volumes (ml) and confidence of every study's mask, one row per study."""
    text = cohort.volumes_csv(project, cohort.rows(session, project, model))
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_stem(project)}_volumes.csv"'})


@router.get("/masks.zip", response_class=FileResponse)
def masks_zip(
    project: ProjectDep,
    session: SessionDep,
    model: ModelQuery = None,
    format: Annotated[Literal["nifti", "dicom-seg"], Query()] = "nifti",
) -> FileResponse:
    """Every study's mask (NIfTI on the study's grid, or DICOM SEG) and volumes.csv, zipped inside the
    request: for small cohorts. A large cohort: an ``export`` job, then ``GET /api/v1/jobs/{id}/download``."""
    table = cohort.rows(session, project, model)
    if not any(r.mask is not None for r in table):
        raise NotFound(cohort.no_masks_message(project, model))
    tmp = volumes.scratch_dir(get_settings().work / "downloads")
    try:
        path = cohort.write_zip(project, table, format, tmp / "masks.zip")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(path, media_type="application/zip", filename=cohort.zip_name(project),
                        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))
