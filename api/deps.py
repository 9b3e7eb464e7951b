"""Dependencies: database session, the caller's API key, and lookups that raise 403/404 once.

Who may do what is decided here, nowhere else (store/auth.py defines the roles):
- ``current_key`` authenticates, and refuses any request but GET/HEAD to a ``reader`` key, so a
  new changing route is closed to readers without a line of its own;
- ``AdminKey`` (key management, audit) and ``UnscopedKey`` (creating a project) ask for more;
- ``ProjectDep``, ``JobDep`` and ``ModelDep`` find the row and answer 404 when it belongs to a
  project outside the key's scope, exactly as if it did not exist (no existence leak).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Request
from sqlalchemy.orm import Session

from store import auth, services
from store.auth import lookup_key
from store.db import get_sessionmaker
from store.errors import Forbidden, NotFound
from store.models import ApiKey, Job, Model, Project

#: methods that change nothing; a reader key may send only these
READ_METHODS = frozenset({"GET", "HEAD"})


def get_session() -> Iterator[Session]:
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def current_key(session: SessionDep, request: Request, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(
            status_code=401,
            detail="missing API key: send 'Authorization: Bearer <key>' (create one with `elsnet create-key`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = lookup_key(session, authorization[7:].strip())
    if key is None:
        raise HTTPException(status_code=401, detail="invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    request.state.audit_key = (key.id, key.prefix)  # who, for the audit trail (api/main.py)
    if request.method not in READ_METHODS and not auth.role_allows(key.role, "editor"):
        raise Forbidden(
            f"this API key ({key.prefix}…) has the role {key.role!r}, which may only read (GET); "
            f"{request.method} needs an 'editor' or 'admin' key: ask whoever runs the service for one"
        )
    return key


CurrentKey = Annotated[ApiKey, Depends(current_key)]


def admin_key(key: CurrentKey) -> ApiKey:
    if not auth.role_allows(key.role, "admin"):
        raise Forbidden(
            f"this needs an admin API key (this one has the role {key.role!r}); ask whoever runs the service "
            "for one (`elsnet create-key --role admin`, or POST /api/v1/keys with an admin key)"
        )
    return key


AdminKey = Annotated[ApiKey, Depends(admin_key)]


def unscoped_key(key: CurrentKey) -> ApiKey:
    """A key that reaches every project: needed to create one (a new project is outside any
    scope) and to search a PACS (it lists every patient there, not those of some projects)."""
    if auth.scope_of(key) is not None:
        raise Forbidden(
            f"this API key ({key.prefix}…) is limited to {len(key.project_ids or [])} project(s) and so cannot "
            "create projects or search a PACS (both reach beyond its projects); use a key that is not limited "
            "to projects"
        )
    return key


UnscopedKey = Annotated[ApiKey, Depends(unscoped_key)]


def project_dep(session: SessionDep, key: CurrentKey, project_id: Annotated[str, Path()]) -> Project:
    if not auth.reaches(key, project_id):
        raise NotFound(f"project {project_id} not found")
    return services.get_project(session, project_id)


def job_dep(session: SessionDep, key: CurrentKey, request: Request, job_id: Annotated[str, Path()]) -> Job:
    job = services.get_job(session, job_id)
    if not auth.reaches(key, job.project_id):
        raise NotFound(f"job {job_id} not found")
    request.state.audit_project_id = job.project_id  # /jobs/{id}/... names no project (api/main.py)
    return job


def model_dep(session: SessionDep, key: CurrentKey, model_id: Annotated[str, Path()]) -> Model:
    model = services.get_model(session, model_id)
    if not auth.reaches(key, model.project_id):
        raise NotFound(f"model {model_id} not found")
    return model


ProjectDep = Annotated[Project, Depends(project_dep)]
JobDep = Annotated[Job, Depends(job_dep)]
ModelDep = Annotated[Model, Depends(model_dep)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
