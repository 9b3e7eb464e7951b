"""Job bookkeeping shared by the API and the worker. The ``jobs`` table is the truth."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.models import Job, JobEvent, utcnow
from store.webhooks import job_finished

log = logging.getLogger(__name__)

TERMINAL = ("succeeded", "failed", "cancelled")
STAGES_TRAIN = ("synthesis", "train_stage1", "pseudo_label", "train_stage2", "segment")


def _next_seq(session: Session, job_id: str) -> int:
    return (session.scalar(select(func.max(JobEvent.seq)).where(JobEvent.job_id == job_id)) or 0) + 1


def add_event(
    session: Session,
    job: Job,
    *,
    stage: str | None,
    progress: float,
    eta_s: float | None = None,
    metrics: dict[str, Any] | None = None,
    message: str | None = None,
) -> None:
    """Record one progress event and mirror it on the job row. Progress never goes backwards."""
    progress = max(float(job.progress or 0.0), min(1.0, float(progress)))
    seq = _next_seq(session, job.id)
    session.add(
        JobEvent(
            job_id=job.id, seq=seq, stage=stage, progress=progress, eta_s=eta_s,
            metrics=metrics or {}, message=message,
        )
    )
    job.stage = stage
    job.progress = progress
    job.eta_s = eta_s
    if metrics:
        job.metrics = {**(job.metrics or {}), **metrics}
    job.heartbeat_at = utcnow()


def request_cancel(session: Session, job: Job) -> None:
    job.cancel_requested = True
    if job.state not in TERMINAL:
        job.state = "cancelled"
        job.finished_at = utcnow()
        job.error = "cancelled by the user"
        job_finished(session, job)  # webhook deliveries commit with the state change


def reap_stale_jobs(session: Session, timeout_s: float, max_attempts: int) -> list[tuple[str, str, int]]:
    """Find running jobs whose worker stopped heartbeating; requeue or fail them.

    Returns ``[(job_id, kind, attempt)]`` of the jobs to enqueue again (the caller sends them
    after committing). A job that has used ``max_attempts`` attempts ends ``failed``.
    """
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    stale = session.scalars(
        select(Job).where(Job.state == "running", Job.heartbeat_at < cutoff).with_for_update()
    ).all()
    requeue = []
    for job in stale:
        if job.attempts >= max_attempts:
            job.state = "failed"
            job.finished_at = utcnow()
            job.error = (
                f"the worker stopped responding (no heartbeat for {timeout_s:.0f} s) on each of "
                f"{job.attempts} attempts; giving up"
            )
            job_finished(session, job)
            log.warning("job %s failed after %d lost attempts", job.id, job.attempts)
        else:
            job.state = "queued"
            session.add(
                JobEvent(
                    job_id=job.id,
                    seq=_next_seq(session, job.id),
                    stage=job.stage, progress=job.progress, metrics={},
                    message=f"worker lost (no heartbeat for {timeout_s:.0f} s); requeued for attempt {job.attempts + 1}",
                )
            )
            requeue.append((job.id, job.kind, job.attempts + 1))
            log.warning("job %s: worker lost, requeued (attempt %d)", job.id, job.attempts + 1)
    return requeue


def claim(session: Session, job_id: str, attempt: int, worker: str) -> Job | None:
    """Atomically move a queued job to running for this delivery; None if it is not ours to run."""
    res = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "queued", Job.attempts < attempt)
        .values(state="running", attempts=attempt, worker=worker, heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = session.get(Job, job_id)
    if job is not None and job.started_at is None:
        job.started_at = utcnow()
    return job
