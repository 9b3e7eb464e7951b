"""The audit trail, for admin keys: who changed or downloaded what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AdminKey, SessionDep
from api.schemas import AuditEventPublic, AuditEventsPublic
from store import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditEventsPublic)
def list_events(
    session: SessionDep,
    _admin: AdminKey,
    project_id: Annotated[str | None, Query()] = None,
    api_key_id: Annotated[str | None, Query()] = None,
    action: Annotated[str | None, Query(description="e.g. study.download, study.delete, key.create")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, e.g. 2026-12-01T00:00:00Z")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditEventsPublic:
    """Newest first."""
    events = audit.query(session, project_id=project_id, api_key_id=api_key_id, action=action, since=since,
                         limit=limit)
    return AuditEventsPublic(data=[AuditEventPublic.model_validate(e) for e in events], count=len(events))
