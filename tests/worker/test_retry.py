"""Transient errors are retried with a bounded number of attempts; the job row tells the truth."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import OperationalError

from store.db import session_scope
from store.models import Job, Project
from worker import pipeline


def _job(state: str = "running", attempts: int = 1) -> str:
    with session_scope() as s:
        p = Project(name="p", labels={"1": "liver"}, colors={})
        s.add(p)
        s.flush()
        j = Job(project_id=p.id, kind="train", params={"preset": "tiny"}, state=state, attempts=attempts)
        s.add(j)
        s.flush()
        return j.id


def test_transient_error_requeues_then_gives_up(sqlite_env: dict, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sent: list[tuple[str, str, int]] = []
    monkeypatch.setattr(pipeline, "enqueue_job", lambda *a: sent.append(a))
    monkeypatch.setattr(pipeline.time, "sleep", lambda s: None)
    err = OperationalError("SELECT 1", {}, Exception("connection reset"))
    # given a first attempt that hit a database hiccup
    jid = _job(attempts=1)
    pipeline._retry_or_fail(jid, "train", 1, err)
    with session_scope() as s:
        assert s.get(Job, jid).state == "queued"
    assert sent == [(jid, "train", 2)]
    # when the last allowed attempt fails the same way, the job ends failed with the reason
    with session_scope() as s:
        s.get(Job, jid).state = "running"
    pipeline._retry_or_fail(jid, "train", 3, err)
    with session_scope() as s:
        job = s.get(Job, jid)
        assert job.state == "failed" and "3 attempts" in job.error and "connection reset" in job.error
    assert len(sent) == 1


def test_enqueue_reaches_the_embedded_broker(sqlite_env: dict) -> None:
    from store.queue import enqueue_job
    from store.settings import get_settings

    jid = _job(state="queued", attempts=0)
    enqueue_job(jid, "train", 1)
    folder = Path(get_settings().broker_folder) / "in"
    messages = [p.read_text() for p in folder.iterdir()]
    assert any(jid in m and "elsnet.train" in m for m in messages)


def test_giving_up_queues_a_job_failed_webhook(sqlite_env: dict, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from store.models import WebhookDelivery
    from store.webhooks import create_webhook

    monkeypatch.setattr(pipeline.time, "sleep", lambda s: None)
    jid = _job(attempts=3)
    with session_scope() as s:
        hook = create_webhook(s, s.get(Project, s.get(Job, jid).project_id), "https://ris.example/hook")
    pipeline._retry_or_fail(jid, "train", 3, OperationalError("SELECT 1", {}, Exception("connection reset")))
    with session_scope() as s:
        (d,) = s.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == jid)).all()
        assert (d.webhook_id, d.event, d.state) == (hook.id, "job.failed", "pending")
        assert "connection reset" in d.payload["job"]["error"]
