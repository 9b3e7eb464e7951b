"""Dependencies: database session, the caller's API key (admin or not), and project lookups (404 once)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Request
from sqlalchemy.orm import Session

from store import services
from store.auth import lookup_key
from store.db import get_sessionmaker
from store.errors import Forbidden
from store.models import ApiKey, Project


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
    return key


CurrentKey = Annotated[ApiKey, Depends(current_key)]


def admin_key(key: CurrentKey) -> ApiKey:
    if not key.is_admin:
        raise Forbidden(
            "this needs an admin API key; ask whoever runs the service for one "
            "(`elsnet create-key --admin`, or POST /api/v1/keys with an admin key)"
        )
    return key


AdminKey = Annotated[ApiKey, Depends(admin_key)]


def project_dep(session: SessionDep, _key: CurrentKey, project_id: Annotated[str, Path()]) -> Project:
    return services.get_project(session, project_id)


ProjectDep = Annotated[Project, Depends(project_dep)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
