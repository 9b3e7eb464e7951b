"""Detect jobs whose worker died (stale heartbeat) and requeue or fail them; apply the audit
trail's retention."""

from __future__ import annotations

from datetime import timedelta

from store import audit
from store.db import session_scope
from store.jobs import reap_stale_jobs
from store.models import utcnow
from store.queue import enqueue_job
from store.settings import get_settings


def reap_once() -> int:
    settings = get_settings()
    with session_scope() as session:
        requeue = reap_stale_jobs(session, settings.heartbeat_timeout_s, settings.job_max_attempts)
    for job_id, kind, attempt in requeue:
        enqueue_job(job_id, kind, attempt)
    if settings.audit_retention_days > 0:
        with session_scope() as session:
            audit.purge(session, utcnow() - timedelta(days=settings.audit_retention_days))
    return len(requeue)
