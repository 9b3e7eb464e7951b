"""The audit trail: who changed what, and who downloaded patient data, when (``audit_events``).

The API records every request that changes something (POST, PUT, PATCH, DELETE under
``/api/v1``, refused ones included) and every download of patient data (a study's volume, an
annotation, a reference mask, a mask, the cohort's masks zip (in the request or an export job's), a
completion, a model artifact, a PACS search); plain listings and
thumbnails are not recorded. Rows are only added, never changed; with
``ELSNET_AUDIT_RETENTION_DAYS`` set, the workers' reaper deletes rows older than that (:func:`purge`). No FastAPI here: the API's
middleware calls :func:`classify` and :func:`record`; admins read it through :func:`query`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.errors import BadInput
from store.models import AuditEvent

log = logging.getLogger(__name__)

_ID = r"[^/]+"
#: (method, path pattern, action); the first match names the request
_ACTIONS: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^/api/v1{p}$"), a) for m, p, a in [
        ("POST", "/projects", "project.create"),
        ("PATCH", f"/projects/{_ID}", "project.update"),
        ("DELETE", f"/projects/{_ID}", "project.delete"),
        ("POST", f"/projects/{_ID}/studies", "study.upload"),
        ("POST", f"/projects/{_ID}/studies/dicomweb", "study.import_pacs"),
        ("POST", f"/projects/{_ID}/dicomweb/studies", "study.receive_pacs"),
        ("DELETE", f"/projects/{_ID}/studies/{_ID}", "study.delete"),
        ("GET", f"/projects/{_ID}/studies/{_ID}/volume", "study.download"),
        ("PUT", f"/projects/{_ID}/studies/{_ID}/annotation", "annotation.save"),
        ("POST", f"/projects/{_ID}/studies/{_ID}/annotation/from-mask", "annotation.from_mask"),
        ("DELETE", f"/projects/{_ID}/studies/{_ID}/annotation", "annotation.delete"),
        ("GET", f"/projects/{_ID}/studies/{_ID}/annotation", "annotation.download"),
        ("PUT", f"/projects/{_ID}/studies/{_ID}/reference", "reference.save"),
        ("DELETE", f"/projects/{_ID}/studies/{_ID}/reference", "reference.delete"),
        ("GET", f"/projects/{_ID}/studies/{_ID}/reference", "reference.download"),
        ("GET", f"/projects/{_ID}/studies/{_ID}/mask", "mask.download"),
        ("POST", f"/projects/{_ID}/studies/{_ID}/mask/dicomweb", "mask.send_pacs"),
        ("GET", f"/projects/{_ID}/studies/{_ID}/completion", "completion.download"),
        ("POST", f"/projects/{_ID}/jobs", "job.create"),
        ("POST", f"/jobs/{_ID}/cancel", "job.cancel"),
        ("GET", f"/models/{_ID}/artifact", "model.download"),
        ("GET", f"/projects/{_ID}/masks.zip", "masks.export"),
        ("GET", f"/jobs/{_ID}/download", "masks.export"),  # an export job's zip: the same data
        ("GET", f"/projects/{_ID}/volumes.csv", "volumes.download"),
        ("POST", f"/projects/{_ID}/webhooks", "webhook.create"),
        ("DELETE", f"/projects/{_ID}/webhooks/{_ID}", "webhook.delete"),
        ("POST", "/keys", "key.create"),
        ("DELETE", f"/keys/{_ID}", "key.revoke"),
        ("GET", f"/dicomweb/{_ID}/studies", "pacs.search"),
        ("GET", f"/dicomweb/{_ID}/studies/{_ID}/series", "pacs.search"),
    ]
]
_PROJECT = re.compile(r"^/api/v1/projects/([0-9a-f]{32})(?:/|$)")


def classify(method: str, path: str) -> str | None:
    """The action a request performs, or None when it is not audited (reads of lists,
    job progress, thumbnails, health). Changing requests without a named action are
    recorded as ``request``."""
    if not path.startswith("/api/v1/"):
        return None
    method = method.upper()
    for m, pattern, action in _ACTIONS:
        if m == method and pattern.match(path):
            return action
    return "request" if method in ("POST", "PUT", "PATCH", "DELETE") else None


def record(session_factory: Callable[[], Session], *, action: str, method: str, path: str, status_code: int,
           key: tuple[str, str] | None, client: str | None, project_id: str | None = None) -> None:
    """Add one event (its own transaction: recorded whether the request succeeded or not).
    Its project: the one the path names, else ``project_id`` (a job's, for ``/jobs/{id}/...``)."""
    m = _PROJECT.match(path)
    with session_factory() as s, s.begin():
        s.add(AuditEvent(
            action=action, method=method.upper(), path=path[:500], status_code=status_code,
            api_key_id=key[0] if key else None, key_prefix=key[1] if key else None,
            project_id=m.group(1) if m else project_id, client=(client or None) and client[:100],
        ))


def query(session: Session, *, project_id: str | None = None, api_key_id: str | None = None,
          action: str | None = None, since: datetime | None = None, limit: int = 200) -> list[AuditEvent]:
    """Newest first, filtered."""
    if not 1 <= limit <= 1000:
        raise BadInput(f"limit must be between 1 and 1000, got {limit}")
    q = select(AuditEvent)
    if project_id:
        q = q.where(AuditEvent.project_id == project_id)
    if api_key_id:
        q = q.where(AuditEvent.api_key_id == api_key_id)
    if action:
        q = q.where(AuditEvent.action == action)
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    return list(session.scalars(q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))


def purge(session: Session, older_than: datetime) -> int:
    """Delete the events recorded before ``older_than``; returns how many went."""
    result = session.execute(delete(AuditEvent).where(AuditEvent.at < older_than)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
