"""Webhooks tell a hospital when a job ends: signed, queued with the job's final state (an
outbox), sent to a real HTTP receiver, retried with backoff, never sent twice by two workers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import get_sessionmaker as get_factory
from store.jobs import reap_stale_jobs, request_cancel
from store.models import Job, Project, Webhook, WebhookDelivery, utcnow
from store.webhooks import create_webhook, deliver_due, job_finished, sign, verify
from tests.conftest import free_port
from tests.webhook_receiver import Receiver


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[sessionmaker[Session]]:
    """A migrated database (SQLite file or real PostgreSQL) with no webhooks in it."""
    request.getfixturevalue("sqlite_env" if request.param == "sqlite" else "pg_env")
    from store.db import get_sessionmaker

    factory = get_sessionmaker()
    with factory() as s, s.begin():
        s.execute(delete(Webhook))  # the PostgreSQL database is shared by the session's tests
    yield factory


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _project(s: Session) -> Project:
    p = Project(name="webhooks", labels={"1": "liver"}, colors={}, auto_segment=False)
    s.add(p)
    s.flush()
    return p


def _job(s: Session, project: Project, state: str = "queued", **kw: object) -> Job:
    job = Job(project_id=project.id, kind="infer", params={}, state=state, **kw)
    s.add(job)
    s.flush()
    return job


def _deliveries(factory: sessionmaker[Session], **where: object) -> list[WebhookDelivery]:
    with factory() as s:
        q = select(WebhookDelivery).filter_by(**where).order_by(WebhookDelivery.created_at)
        return list(s.scalars(q))


def _cancelled_job_with_hook(factory: sessionmaker[Session], url: str, n_jobs: int = 1) -> tuple[Webhook, list[str]]:
    with factory() as s, s.begin():
        p = _project(s)
        hook = create_webhook(s, p, url)
        jobs = [_job(s, p) for _ in range(n_jobs)]
        for j in jobs:
            request_cancel(s, j)
        return hook, [j.id for j in jobs]


def test_signature_verifies_with_the_secret_and_fails_with_another() -> None:
    body = b'{"event":"job.succeeded","job":{"id":"abc"}}'
    now = 1_800_000_000
    header = sign("whsec_right", body, now)
    assert header.startswith(f"t={now},v1=")
    assert verify("whsec_right", body, header, now=now)
    assert not verify("whsec_wrong", body, header, now=now)
    assert not verify("whsec_right", body.replace(b"abc", b"abd"), header, now=now)  # tampered body
    assert not verify("whsec_right", body, header, now=now + 3600)  # replayed an hour later
    assert not verify("whsec_right", body, "v1=deadbeef", now=now)


def test_the_secret_is_stored_encrypted_and_a_wrong_key_fails_the_delivery_with_the_reason(
    db: sessionmaker[Session], http: httpx.Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from store.db import reset_caches

    with Receiver(status=200) as rx:
        hook, (job_id,) = _cancelled_job_with_hook(db, rx.url)
        # then: the database holds no plain secret, yet the service signs with it
        with db() as s:
            stored = s.scalar(select(Webhook.secret_stored).where(Webhook.id == hook.id))
        assert stored is not None and stored.startswith("enc1:") and hook.secret not in stored
        assert hook.secret.startswith("whsec_")
        # when: the service runs with another key (ELSNET_SECRET_KEY changed)
        monkeypatch.setenv("ELSNET_SECRET_KEY", "another-key-" + "x" * 40)
        reset_caches()
        deliver_due(get_factory(), utcnow(), http)
        # then: nothing is sent, and the delivery says why (it stays pending for a retry)
        assert rx.received == []
        (row,) = _deliveries(get_factory(), job_id=job_id)
        assert row.state == "pending" and "ELSNET_SECRET_KEY" in (row.last_error or "")


def test_job_finished_queues_deliveries_only_for_subscribed_events(db: sessionmaker[Session]) -> None:
    # given: a project with one hook for every event and one for failures only
    with db() as s, s.begin():
        p = _project(s)
        every = create_webhook(s, p, "https://ris.example/all")
        failures = create_webhook(s, p, "https://ris.example/failures", ["job.failed"])
        other = create_webhook(s, _project(s), "https://ris.example/other-project")
        cancelled = _job(s, p)
        stale = _job(s, p, state="running", attempts=3, heartbeat_at=utcnow() - timedelta(hours=1))
    # when: one job is cancelled (twice), the other is given up by the reaper
    with db() as s, s.begin():
        request_cancel(s, s.get(Job, cancelled.id))
    with db() as s, s.begin():
        request_cancel(s, s.get(Job, cancelled.id))  # already cancelled: no second event
    with db() as s, s.begin():
        reap_stale_jobs(s, timeout_s=60, max_attempts=3)
    # then
    got = {(d.webhook_id, d.event, d.job_id) for d in _deliveries(db)}
    assert got == {
        (every.id, "job.cancelled", cancelled.id),
        (every.id, "job.failed", stale.id),
        (failures.id, "job.failed", stale.id),
    }
    assert not _deliveries(db, webhook_id=other.id)
    failed = _deliveries(db, webhook_id=failures.id)[0]
    assert failed.state == "pending" and failed.attempts == 0
    assert failed.payload["event"] == "job.failed" and failed.payload["delivery_id"] == failed.id
    assert failed.payload["job"]["id"] == stale.id and failed.payload["job"]["state"] == "failed"
    assert "stopped responding" in failed.payload["job"]["error"]


def test_the_event_commits_or_rolls_back_with_the_state_change(db: sessionmaker[Session]) -> None:
    with db() as s, s.begin():
        p = _project(s)
        create_webhook(s, p, "https://ris.example/hook")
        job = _job(s, p)
    with db() as s:
        request_cancel(s, s.get(Job, job.id))
        s.rollback()  # the process dies before its commit
    assert _deliveries(db, job_id=job.id) == []
    with db() as s:
        assert s.get(Job, job.id).state == "queued"
        with pytest.raises(ValueError, match="not in a final state"):
            job_finished(s, s.get(Job, job.id))


def test_deliver_due_posts_signed_json_and_marks_it_delivered(db: sessionmaker[Session], http: httpx.Client) -> None:
    with Receiver(status=200) as rx:
        hook, (job_id,) = _cancelled_job_with_hook(db, rx.url)
        # when
        deliver_due(db, utcnow(), http)
        deliver_due(db, utcnow() + timedelta(days=1), http)  # nothing is due any more
    # then: exactly one signed POST carrying the event and the job
    assert len(rx.received) == 1
    req = rx.received[0]
    (row,) = _deliveries(db, job_id=job_id)
    assert req.headers["x-elsnet-event"] == "job.cancelled"
    assert req.headers["x-elsnet-delivery"] == row.id == req.json["delivery_id"]
    assert req.headers["content-type"] == "application/json"
    assert verify(hook.secret, req.body, req.headers["x-elsnet-signature"])
    assert req.json["event"] == "job.cancelled"
    assert req.json["job"]["id"] == job_id and req.json["job"]["state"] == "cancelled"
    assert req.json["job"]["error"] == "cancelled by the user"
    assert row.state == "delivered" and row.attempts == 1 and row.last_status_code == 200
    assert row.delivered_at is not None and row.last_error is None


def _near(t: datetime, expected: datetime) -> bool:
    return timedelta(0) <= t - expected < timedelta(seconds=2)


def test_failing_receiver_is_retried_with_backoff_then_failed(db: sessionmaker[Session], http: httpx.Client) -> None:
    with Receiver(status=500) as rx:
        _, (job_id,) = _cancelled_job_with_hook(db, rx.url)
        t0 = utcnow()
        deliver_due(db, t0, http, max_attempts=3)
        (row,) = _deliveries(db, job_id=job_id)
        assert len(rx.received) == 1
        assert row.state == "pending" and row.attempts == 1 and row.last_status_code == 500
        assert "HTTP 500" in row.last_error and "maintenance" in row.last_error
        assert _near(row.next_attempt_at, t0 + timedelta(seconds=10))  # first backoff: 10 s
        deliver_due(db, t0 + timedelta(seconds=9), http, max_attempts=3)
        assert len(rx.received) == 1  # not due yet
        t1 = t0 + timedelta(seconds=11)
        deliver_due(db, t1, http, max_attempts=3)
        (row,) = _deliveries(db, job_id=job_id)
        assert len(rx.received) == 2 and row.attempts == 2
        assert _near(row.next_attempt_at, t1 + timedelta(seconds=30))  # then 30 s
        deliver_due(db, t1 + timedelta(seconds=29), http, max_attempts=3)
        assert len(rx.received) == 2
        deliver_due(db, t1 + timedelta(seconds=31), http, max_attempts=3)
        deliver_due(db, t1 + timedelta(days=30), http, max_attempts=3)  # failed: never again
    (row,) = _deliveries(db, job_id=job_id)
    assert len(rx.received) == 3 and row.state == "failed" and row.attempts == 3
    assert row.delivered_at is None and row.last_status_code == 500
    # every attempt is the same delivery: the receiver can deduplicate by its id
    assert {r.headers["x-elsnet-delivery"] for r in rx.received} == {row.id}


def test_unreachable_receiver_records_why(db: sessionmaker[Session], http: httpx.Client) -> None:
    _, (job_id,) = _cancelled_job_with_hook(db, f"http://127.0.0.1:{free_port()}/nobody-listens")
    deliver_due(db, utcnow(), http)
    (row,) = _deliveries(db, job_id=job_id)
    assert row.state == "pending" and row.attempts == 1 and row.last_status_code is None
    assert "ConnectError" in row.last_error


def test_two_workers_never_send_one_delivery_twice(db: sessionmaker[Session]) -> None:
    factory = db
    n = 16
    with Receiver(status=200, delay_s=0.1) as rx:
        _cancelled_job_with_hook(factory, rx.url, n_jobs=n)
        start = threading.Barrier(2)
        counts: list[int] = []

        def worker() -> None:
            with httpx.Client() as client:
                start.wait()
                counts.append(deliver_due(factory, utcnow(), client))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    sent = Counter(r.headers["x-elsnet-delivery"] for r in rx.received)
    rows = _deliveries(factory)
    assert len(rows) == n and sum(counts) == n and min(counts) > 0  # both workers sent some
    assert set(sent) == {r.id for r in rows} and max(sent.values()) == 1
    assert {(r.state, r.attempts) for r in rows} == {("delivered", 1)}


def test_the_event_says_which_masks_the_job_made_and_where_to_get_them(db: sessionmaker[Session]) -> None:
    from store.models import Mask, Model, Study

    # given: an infer job that segmented two studies (its masks carry its id), and another job's mask
    with db() as s, s.begin():
        p = _project(s)
        create_webhook(s, p, "https://ris.example/all")
        job = _job(s, p, state="running", attempts=1)
        model = Model(project_id=p.id, job_id="t", artifact_key="x", config={}, metrics={}, exemplar_study_ids=[])
        s.add(model)
        studies = [Study(project_id=p.id, name=f"s{i}", modality="MR", source_format="nifti", shape=[2, 2, 2],
                         spacing=[1, 1, 1], affine=[], sha256=f"h{i}", size_bytes=1, original_keys=[],
                         volume_key=f"v{i}") for i in range(3)]
        s.add_all(studies)
        s.flush()
        for st, jid in zip(studies, [job.id, job.id, "another-job"], strict=True):
            s.add(Mask(study_id=st.id, model_id=model.id, job_id=jid, key=f"m/{st.id}"))
        ids, pid, mid = sorted(st.id for st in studies[:2]), p.id, model.id
    # when: it succeeds
    with db() as s, s.begin():
        j = s.get(Job, job.id)
        j.state = "succeeded"
        job_finished(s, j)
    # then: the event lists exactly its two masks, each with the address to fetch it
    payload = _deliveries(db)[0].payload["job"]
    assert sorted(m["study_id"] for m in payload["masks"]) == ids
    assert all(m["model_id"] == mid and m["url"] == f"/api/v1/projects/{pid}/studies/{m['study_id']}/mask?model={mid}"
               for m in payload["masks"])
    assert "imported_study_ids" not in payload
