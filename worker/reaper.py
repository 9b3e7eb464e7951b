"""Detect jobs whose worker died (stale heartbeat) and requeue or fail them."""

from __future__ import annotations

from store.db import session_scope
from store.jobs import reap_stale_jobs
from store.queue import enqueue_job
from store.settings import get_settings


def reap_once() -> int:
    settings = get_settings()
    with session_scope() as session:
        requeue = reap_stale_jobs(session, settings.heartbeat_timeout_s, settings.job_max_attempts)
    for job_id, kind, attempt in requeue:
        enqueue_job(job_id, kind, attempt)
    return len(requeue)
