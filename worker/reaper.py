"""Detect jobs whose worker died (stale heartbeat) and requeue or fail them; apply the audit
trail's retention and delete the cohort exports past theirs."""

from __future__ import annotations

from datetime import timedelta

from store import audit, cohort
from store.db import session_scope
from store.jobs import reap_stale_jobs
from store.models import utcnow
from store.queue import enqueue_job
from store.settings import get_settings
from store.storage import get_store


def reap_once() -> int:
    settings = get_settings()
    with session_scope() as session:
        requeue = reap_stale_jobs(session, settings.heartbeat_timeout_s, settings.job_max_attempts)
    for job_id, kind, attempt in requeue:
        enqueue_job(job_id, kind, attempt)
    if settings.audit_retention_days > 0:
        with session_scope() as session:
            audit.purge(session, utcnow() - timedelta(days=settings.audit_retention_days))
    with session_scope() as session:
        cohort.purge_expired_exports(session, get_store())
    return len(requeue)
