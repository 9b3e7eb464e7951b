"""Webhooks: tell a hospital's server over HTTP when a job ends (docs/webhooks.md).

Delivery is a transactional outbox. :func:`job_finished` writes one ``pending`` row per
subscribed webhook in the same transaction that moves the job to its final state, so an
event is never lost to a crash between "job done" and "hook sent". The workers' delivery
loop calls :func:`deliver_due`, which claims due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, one atomic ``UPDATE`` on SQLite), POSTs them signed, and records the outcome:
``delivered`` on 2xx, else a retry with exponential backoff, ``failed`` after the last
attempt. Delivery is at least once (a worker killed mid-POST sends again after its lease);
receivers deduplicate by the ``X-Elsnet-Delivery`` header.

No FastAPI, no Celery: the API manages webhooks through these functions, the worker sends.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.crypto import SecretKeyMismatch, seal
from store.errors import BadInput, NotFound
from store.models import Job, Mask, Project, Webhook, WebhookDelivery, new_id, utcnow
from store.settings import get_settings

log = logging.getLogger(__name__)

EVENTS = ("job.succeeded", "job.failed", "job.cancelled")
DELIVERY_STATES = ("pending", "delivered", "failed")
BACKOFF_BASE_S = 10.0  # first retry after 10 s, then x3: 30 s, 90 s, 270 s, ...
BACKOFF_FACTOR = 3.0
BACKOFF_CAP_S = 3600.0
SIGNATURE_HEADER = "X-Elsnet-Signature"
SIGNATURE_TOLERANCE_S = 300
USER_AGENT = "ELSNet-Webhooks/1"


# managing webhooks ------------------------------------------------------------
def validate_url(url: str) -> str:
    url = (url or "").strip()
    example = "e.g. https://ris.hospital.example/elsnet-events"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"url must be an absolute http:// or https:// address with a host ({example}); got {url!r}")
    if any(ch.isspace() for ch in url):
        raise BadInput(f"url must not contain spaces ({example}); got {url!r}")
    if len(url) > 2000:
        raise BadInput("url is longer than 2000 characters")
    allowed = [p.strip().lower() for p in get_settings().webhook_allowed_hosts.split(",") if p.strip()]
    host = (parts.hostname or "").lower()
    if allowed and not any(fnmatch.fnmatchcase(host, p) for p in allowed):
        raise BadInput(f"webhooks may only call the hosts the operator allows ({', '.join(allowed)}; "
                       f"ELSNET_WEBHOOK_ALLOWED_HOSTS), not {host!r}")
    return url


def validate_events(events: Sequence[str] | None) -> list[str]:
    if events is None:
        return list(EVENTS)
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise BadInput(f"unknown event(s) {unknown}; events must be chosen from {list(EVENTS)}")
    if not events:
        raise BadInput(f"events must name at least one of {list(EVENTS)} (omit it for all)")
    return list(dict.fromkeys(events))


def create_webhook(session: Session, project: Project, url: str, events: Sequence[str] | None = None) -> Webhook:
    """Register ``url`` for ``project``; the returned row carries the new signing secret."""
    hook = Webhook(
        project_id=project.id, url=validate_url(url), events=validate_events(events),
        secret_stored=seal("whsec_" + secrets.token_hex(24)),
    )
    session.add(hook)
    session.flush()
    return hook


def list_webhooks(session: Session, project: Project) -> list[Webhook]:
    return list(
        session.scalars(select(Webhook).where(Webhook.project_id == project.id).order_by(Webhook.created_at))
    )


def get_webhook(session: Session, project: Project, webhook_id: str) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.project_id != project.id:
        raise NotFound(f"webhook {webhook_id} not found in project {project.id}")
    return hook


def delete_webhook(session: Session, project: Project, webhook_id: str) -> None:
    """Remove the webhook and its delivery history; pending deliveries are not sent."""
    session.delete(get_webhook(session, project, webhook_id))
    session.flush()


def list_deliveries(session: Session, hook: Webhook, limit: int = 50, state: str | None = None) -> list[WebhookDelivery]:
    if state is not None and state not in DELIVERY_STATES:
        raise BadInput(f"state must be one of {list(DELIVERY_STATES)}, got {state!r}")
    q = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
    if state is not None:
        q = q.where(WebhookDelivery.state == state)
    return list(session.scalars(q.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)))


# the outbox -------------------------------------------------------------------
def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def job_payload(job: Job, session: Session | None = None) -> dict[str, Any]:
    """What a receiver learns about the job: enough to act without calling back.

    With ``session``: ``masks``, the studies this job segmented with the address of each mask
    (``GET`` it with an API key), and for an import job ``imported_study_ids``.
    """
    metrics = {k: v for k, v in (job.metrics or {}).items() if isinstance(v, int | float | str | bool)}
    extra: dict[str, Any] = {}
    if session is not None:
        rows = session.execute(select(Mask.study_id, Mask.model_id).where(Mask.job_id == job.id)
                               .order_by(Mask.created_at, Mask.study_id)).all()
        extra["masks"] = [{"study_id": sid, "model_id": mid,
                           "url": f"/api/v1/projects/{job.project_id}/studies/{sid}/mask?model={mid}"}
                          for sid, mid in rows]
    if job.kind == "import":
        extra["imported_study_ids"] = [r["study_id"] for r in (job.metrics or {}).get("import_results", [])
                                       if r.get("study_id")]
    return {
        "id": job.id, "project_id": job.project_id, "kind": job.kind, "state": job.state,
        "error": job.error, "model_id": job.model_id, "attempts": job.attempts,
        "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at), "metrics": metrics, **extra,
    }


def job_finished(session: Session, job: Job) -> list[WebhookDelivery]:
    """Queue one delivery per webhook of the job's project subscribed to its final state.

    Call it in the session (transaction) that sets the final state: the deliveries commit or
    roll back together with it.
    """
    event = f"job.{job.state}"
    if event not in EVENTS:
        raise ValueError(f"job {job.id} is {job.state!r}, not in a final state")
    hooks = session.scalars(
        select(Webhook).where(Webhook.project_id == job.project_id, Webhook.disabled_at.is_(None))
    ).all()
    now = utcnow()
    out = []
    for hook in hooks:
        if event not in (hook.events or []):
            continue
        delivery_id = new_id()
        payload = {"event": event, "delivery_id": delivery_id, "created_at": now.isoformat(), "job": job_payload(job, session)}
        row = WebhookDelivery(
            id=delivery_id, webhook_id=hook.id, event=event, job_id=job.id, payload=payload,
            state="pending", attempts=0, next_attempt_at=now, created_at=now,
        )
        session.add(row)
        out.append(row)
    if out:
        log.info("job %s %s: %d webhook deliveries queued", job.id, event, len(out))
    return out


# signing ------------------------------------------------------------------------
def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``X-Elsnet-Signature`` value: ``t=<unix ts>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance_s: float = SIGNATURE_TOLERANCE_S) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` old."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def delivery_headers(secret: str, event: str, delivery_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Elsnet-Event": event,
        "X-Elsnet-Delivery": delivery_id,
        SIGNATURE_HEADER: sign(secret, body, timestamp),
    }


# sending ------------------------------------------------------------------------
def backoff_s(attempt: int) -> float:
    """Wait after failed attempt number ``attempt`` (1-based): 10 s, 30 s, 90 s, ... <= 1 h."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * BACKOFF_FACTOR ** (attempt - 1))


@dataclass(frozen=True)
class _Claim:
    id: str
    attempt: int
    event: str
    payload: dict[str, Any]
    url: str
    secret: str
    disabled: bool
    problem: str | None = None  # why it cannot be sent (e.g. its secret does not decrypt)


def _claim_one(session_factory: Callable[[], Session], now: datetime, lease_s: float) -> _Claim | None:
    """Take the oldest due delivery for this caller: bump its attempt count and hide it
    behind a lease, so no other worker picks it while we send (committed before sending)."""
    d = WebhookDelivery
    with session_factory() as s, s.begin():
        due = select(d.id).where(d.state == "pending", d.next_attempt_at <= now)
        due = due.order_by(d.next_attempt_at, d.id).limit(1)
        if s.get_bind().dialect.name == "postgresql":
            # lock the row; a row another worker is claiming stays locked until its claim
            # commits: skip it and take the next one
            row_id = s.scalar(due.with_for_update(skip_locked=True))
            if row_id is None:
                return None
            target = d.id == row_id
        else:
            # SQLite has no row locks: the UPDATE itself is the claim (SQLite serialises
            # writers), and its repeated conditions make a row claimed meanwhile not match
            target = d.id == due.scalar_subquery()
        claimed = s.execute(
            update(d)
            .where(target, d.state == "pending", d.next_attempt_at <= now)
            .values(attempts=d.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
            .returning(d.id, d.attempts, d.event, d.payload, d.webhook_id)
            .execution_options(synchronize_session=False)
        ).first()
        if claimed is None:
            return None
        hook = s.get(Webhook, claimed.webhook_id)
        if hook is None:  # deleted meanwhile: its deliveries go with it
            return None
        try:
            secret, problem = hook.secret, None
        except SecretKeyMismatch as exc:  # recorded on the delivery (retried: the key may be fixed)
            secret, problem = "", str(exc)
        return _Claim(
            id=claimed.id, attempt=claimed.attempts, event=claimed.event, payload=claimed.payload,
            url=hook.url, secret=secret, disabled=hook.disabled_at is not None, problem=problem,
        )


def _send(http_client: httpx.Client, c: _Claim, now: datetime, timeout_s: float) -> tuple[int | None, str | None]:
    """POST one delivery; (status code or None, error text or None when delivered)."""
    if c.disabled:
        return None, "webhook disabled; not sent"
    if c.problem is not None:
        return None, c.problem
    body = encode_body(c.payload)
    headers = delivery_headers(c.secret, c.event, c.id, body, int(now.timestamp()))
    try:
        r = http_client.post(c.url, content=body, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException as exc:
        return None, f"timed out after {timeout_s:g} s ({exc.__class__.__name__})"
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:1000]
    if 200 <= r.status_code < 300:
        return r.status_code, None
    text = r.text[:300].strip()
    hint = " (redirects are not followed: register the final URL)" if r.is_redirect else ""
    return r.status_code, f"HTTP {r.status_code}{hint}" + (f": {text}" if text else "")


def _record(session_factory: Callable[[], Session], c: _Claim, status: int | None, error: str | None,
            now: datetime, max_attempts: int) -> str:
    d = WebhookDelivery
    values: dict[str, Any] = {"last_status_code": status, "last_error": error}
    if error is None:
        values.update(state="delivered", delivered_at=now)
    elif c.attempt >= max_attempts or c.disabled:
        values.update(state="failed")
    else:
        values.update(next_attempt_at=now + timedelta(seconds=backoff_s(c.attempt)))
    with session_factory() as s, s.begin():
        # only the claim we hold (same attempt) may record its outcome
        s.execute(
            update(d).where(d.id == c.id, d.attempts == c.attempt, d.state == "pending").values(**values)
            .execution_options(synchronize_session=False)
        )
    state = str(values.get("state", "pending"))
    if error is not None:
        log.warning("webhook delivery %s (%s) attempt %d: %s -> %s", c.id, c.url, c.attempt, error, state)
    return state


def deliver_due(
    session_factory: Callable[[], Session],
    now: datetime,
    http_client: httpx.Client,
    *,
    max_attempts: int | None = None,
    timeout_s: float | None = None,
    limit: int = 100,
) -> int:
    """Send up to ``limit`` due deliveries, one at a time; returns how many were attempted.

    ``now`` is the clock at the call (tests pass a future time to drive the retries); it
    advances with real time while the call runs. Safe to run in many workers at once.
    """
    settings = get_settings()
    max_attempts = settings.webhook_max_attempts if max_attempts is None else max_attempts
    timeout_s = settings.webhook_timeout_s if timeout_s is None else timeout_s
    lease_s = max(300.0, 10 * timeout_s)  # longer than any one POST can take
    t0 = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - t0)

    sent = 0
    while sent < limit:
        claim = _claim_one(session_factory, clock(), lease_s)
        if claim is None:
            break
        status, error = _send(http_client, claim, clock(), timeout_s)
        _record(session_factory, claim, status, error, clock(), max_attempts)
        sent += 1
    return sent
