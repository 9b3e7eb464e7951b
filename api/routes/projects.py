from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api import idempotency
from api.deps import CurrentKey, IdempotencyKey, ProjectDep, SessionDep, UnscopedKey
from api.schemas import (
    ExemplarRankingPublic,
    ProjectCreate,
    ProjectPublic,
    ProjectsPublic,
    ProjectUpdate,
)
from store import auth, exemplars, services
from store.models import Project

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


def project_public(session, project: Project) -> ProjectPublic:
    out = ProjectPublic.model_validate(project)
    out.study_count = services.study_count(session, project.id)
    return out


@router.post("", status_code=201, response_model=ProjectPublic)
def create_project(body: ProjectCreate, session: SessionDep, key: UnscopedKey, request: Request, idem: IdempotencyKey = None) -> JSONResponse:
    def produce():
        project = services.create_project(session, body.name, body.labels, body.colors, body.auto_segment)
        return 201, project_public(session, project)

    fp = idempotency.fingerprint("POST", request.url.path, body.model_dump())
    return idempotency.run(session, key, idem, fp, produce)


@router.get("", response_model=ProjectsPublic)
def list_projects(session: SessionDep, key: CurrentKey) -> ProjectsPublic:
    projects = services.list_projects(session, only=auth.scope_of(key))
    return ProjectsPublic(data=[project_public(session, p) for p in projects], count=len(projects))


@router.get("/{project_id}", response_model=ProjectPublic)
def read_project(project: ProjectDep, session: SessionDep) -> ProjectPublic:
    return project_public(session, project)


@router.patch("/{project_id}", response_model=ProjectPublic)
def update_project(project: ProjectDep, body: ProjectUpdate, session: SessionDep) -> ProjectPublic:
    services.update_project(session, project, body.model_dump(exclude_unset=True))
    session.commit()
    return project_public(session, project)


@router.delete("/{project_id}", status_code=204)
def delete_project(project: ProjectDep, session: SessionDep) -> Response:
    services.delete_project(session, project)
    return Response(status_code=204)


@router.get("/{project_id}/exemplar-ranking", response_model=ExemplarRankingPublic)
def read_exemplar_ranking(project: ProjectDep, session: SessionDep) -> ExemplarRankingPublic:
    """Which study to annotate: the newest ranking of a ``{"kind": "rank"}`` job, best first, with
    the studies added or deleted since (404 saying how to start one when there is none)."""
    return ExemplarRankingPublic.model_validate(exemplars.latest_ranking(session, project))
