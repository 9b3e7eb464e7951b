"""Progress reporting, cancellation checks and heartbeats for one running job."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import update

from store.db import session_scope
from store.jobs import add_event
from store.models import Job, utcnow
from store.settings import get_settings

log = logging.getLogger(__name__)


class JobReporter:
    """Writes throttled progress events to the job row; answers "should I stop?".

    ``span`` maps the core's fit fraction (0..1) into the job's overall progress.
    """

    def __init__(self, job_id: str, worker_name: str, attempt: int, min_interval_s: float = 1.0) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.worker_name = worker_name
        self.min_interval_s = min_interval_s
        self._last_write = 0.0
        self._last_stage: str | None = None
        self._last_cancel_check = 0.0
        self._cancelled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.span = (0.0, 1.0)

    # heartbeat -------------------------------------------------------------
    def __enter__(self) -> JobReporter:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.job_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        interval = get_settings().heartbeat_interval_s
        while not self._stop.wait(interval):
            try:
                with session_scope() as s:
                    s.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.state == "running", Job.worker == self.worker_name)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # a missed beat is retried next interval
                log.warning("heartbeat for job %s failed", self.job_id, exc_info=True)

    # progress --------------------------------------------------------------
    def report(
        self,
        stage: str,
        fraction: float,
        *,
        eta_s: float | None = None,
        metrics: dict[str, Any] | None = None,
        message: str | None = None,
        force: bool = False,
    ) -> None:
        now = time.monotonic()
        if not force and stage == self._last_stage and now - self._last_write < self.min_interval_s:
            return
        lo, hi = self.span
        overall = lo + (hi - lo) * max(0.0, min(1.0, fraction))
        clean = {k: float(v) for k, v in (metrics or {}).items() if isinstance(v, int | float)}
        with session_scope() as s:
            job = s.get(Job, self.job_id)
            if job is None or job.state != "running" or job.attempts != self.attempt:
                return
            add_event(s, job, stage=stage, progress=overall, eta_s=eta_s, metrics=clean, message=message)
        self._last_write = now
        self._last_stage = stage

    def on_fit_event(self, event: Any) -> None:
        """Adapter for elsnet_core's ProgressEvent."""
        self.report(
            event.stage, event.fraction, eta_s=getattr(event, "eta_s", None),
            metrics=getattr(event, "metrics", None), message=getattr(event, "message", None),
        )

    def should_stop(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check < 0.5:
            return False
        self._last_cancel_check = now
        with session_scope() as s:
            job = s.get(Job, self.job_id)
            # stop when cancelled, and when the job is no longer ours (the reaper handed it on)
            self._cancelled = (
                job is None or bool(job.cancel_requested) or job.state != "running"
                or job.attempts != self.attempt or job.worker != self.worker_name
            )
        return self._cancelled
