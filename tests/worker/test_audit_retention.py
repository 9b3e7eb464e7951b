"""The reaper applies the audit trail's retention (ELSNET_AUDIT_RETENTION_DAYS) on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from store.db import reset_caches, session_scope
from store.models import AuditEvent, new_id, utcnow
from worker.reaper import reap_once


def _events(marker: str) -> list[int]:
    with session_scope() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.project_id == marker).order_by(AuditEvent.at))
        return [(utcnow() - e.at).days for e in rows]


@pytest.mark.parametrize(("days", "kept"), [(0, [400, 40, 1]), (30, [1])])
def test_the_reaper_deletes_events_older_than_the_retention_and_keeps_all_without_one(
    days: int, kept: list[int], pg_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: events recorded 400, 40 and 1 day(s) ago
    marker = new_id()
    with session_scope() as s:
        for age in (400, 40, 1):
            s.add(AuditEvent(at=utcnow() - timedelta(days=age, hours=1), action="mask.download", method="GET",
                             path=f"/api/v1/projects/{marker}/x", status_code=200, project_id=marker))
    monkeypatch.setenv("ELSNET_AUDIT_RETENTION_DAYS", str(days))
    reset_caches()
    # when
    reap_once()
    # then
    assert _events(marker) == kept
