"""What operations staff watch: job counts by kind and state, how long the oldest queued job has
waited (no worker takes jobs?), running jobs whose heartbeat stopped, job durations, webhook
deliveries by state, and how much the service holds. Aggregates only: no names, no ids, no
patient data. Rendered in the Prometheus text format (version 0.0.4) for ``GET /metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.jobs import TERMINAL
from store.models import Job, Mask, Model, Project, Study, WebhookDelivery, utcnow
from store.queue import TASK_FOR_KIND
from store.webhooks import DELIVERY_STATES

JOB_KINDS = tuple(TASK_FOR_KIND)
JOB_STATES = ("queued", "running", *TERMINAL)


@dataclass
class Metric:
    name: str
    help: str
    kind: str  # "gauge" | "counter"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())


def collect(session: Session, heartbeat_timeout_s: float, now: datetime | None = None) -> list[Metric]:
    now = now or utcnow()
    by_kind_state = dict.fromkeys(((k, s) for k in JOB_KINDS for s in JOB_STATES), 0)
    for kind, state, n in session.execute(select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)):
        by_kind_state[(kind, state)] = int(n)
    jobs = Metric("elsnet_jobs", "Jobs by kind and state (rows of the jobs table).", "gauge",
                  [({"kind": k, "state": s}, float(n)) for (k, s), n in sorted(by_kind_state.items())])

    oldest = session.scalar(select(func.min(Job.created_at)).where(Job.state == "queued"))
    waiting = Metric("elsnet_oldest_queued_job_age_seconds",
                     "How long the oldest queued job has waited (0 when none waits); rising means no worker takes jobs.",
                     "gauge", [({}, _seconds(now - oldest) if oldest else 0.0)])

    stale_before = now - timedelta(seconds=heartbeat_timeout_s)
    stale = session.scalar(select(func.count()).select_from(Job).where(
        Job.state == "running", (Job.heartbeat_at.is_(None)) | (Job.heartbeat_at < stale_before)))
    stalled = Metric("elsnet_running_jobs_without_heartbeat",
                     "Running jobs whose worker has not reported within ELSNET_HEARTBEAT_TIMEOUT_S (the reaper requeues them).",
                     "gauge", [({}, float(stale or 0))])

    durations = Metric("elsnet_job_duration_seconds", "Run time of finished jobs (started to finished), by kind and state.",
                       "summary")
    finished = session.execute(select(Job.kind, Job.state, Job.started_at, Job.finished_at).where(
        Job.state.in_(("succeeded", "failed")), Job.started_at.is_not(None), Job.finished_at.is_not(None)))
    totals: dict[tuple[str, str], list[float]] = {}
    for kind, state, started, ended in finished:
        if started is None or ended is None:  # excluded by the query; for the type checker
            continue
        t = totals.setdefault((kind, state), [0.0, 0.0])
        t[0] += _seconds(ended - started)
        t[1] += 1
    for (kind, state), (total, count) in sorted(totals.items()):
        durations.samples += [({"kind": kind, "state": state, "__suffix": "_sum"}, total),
                              ({"kind": kind, "state": state, "__suffix": "_count"}, count)]

    by_delivery = dict.fromkeys(DELIVERY_STATES, 0)
    for state, n in session.execute(select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)):
        by_delivery[state] = int(n)
    deliveries = Metric("elsnet_webhook_deliveries", "Webhook deliveries by state.", "gauge",
                        [({"state": s}, float(n)) for s, n in by_delivery.items()])

    held = Metric("elsnet_objects", "What the service holds, by kind.", "gauge", [
        ({"kind": name}, float(session.scalar(select(func.count()).select_from(table)) or 0))
        for name, table in (("projects", Project), ("studies", Study), ("models", Model), ("masks", Mask))
    ])
    return [jobs, waiting, stalled, durations, deliveries, held]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(metrics: list[Metric]) -> str:
    """The Prometheus text exposition of ``metrics``."""
    lines: list[str] = []
    for m in metrics:
        lines += [f"# HELP {m.name} {m.help}", f"# TYPE {m.name} {m.kind}"]
        for labels, value in m.samples:
            labels = dict(labels)
            suffix = labels.pop("__suffix", "")
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            number = repr(float(value))
            lines.append(f"{m.name}{suffix}{{{text}}} {number}" if text else f"{m.name}{suffix} {number}")
    return "\n".join(lines) + "\n"
