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


def _running_job_with_hook() -> str:
    """A running job whose project has a webhook for every event."""
    from store import webhooks

    jid = _job(state="running", attempts=1)
    with session_scope() as s:
        job = s.get(Job, jid)
        assert job is not None
        project = s.get(Project, job.project_id)
        assert project is not None
        webhooks.create_webhook(s, project, "http://127.0.0.1:9/hook")
    return jid


def test_a_cancel_and_a_finish_at_once_give_one_final_state_and_one_event(pg_env: dict) -> None:
    """PostgreSQL: while a cancel holds the job row (not yet committed), the worker's finish
    waits; it then finds the job cancelled and does nothing: one state, one webhook event."""
    import threading

    from store import services
    from store.models import WebhookDelivery

    jid = _running_job_with_hook()
    results: list[bool] = []
    with session_scope() as api_session:
        services.cancel_job(api_session, services.get_job(api_session, jid))  # row locked, not committed
        worker = threading.Thread(target=lambda: results.append(pipeline._finish(jid, "succeeded")))
        worker.start()
        worker.join(timeout=1.5)
        assert worker.is_alive(), "the worker's finish did not wait for the cancel's lock"
    worker.join(timeout=30)
    assert results == [False]
    with session_scope() as s:
        assert s.get(Job, jid).state == "cancelled"
        events = [d.event for d in s.query(WebhookDelivery).filter(WebhookDelivery.job_id == jid)]
    assert events == ["job.cancelled"]


def test_a_cancel_arriving_while_the_worker_finishes_is_refused(pg_env: dict) -> None:
    """PostgreSQL, the other order: the worker holds the row while it records success; a cancel
    arriving then waits, finds the job succeeded and is refused (409), not written over it."""
    import threading

    from store import services, webhooks
    from store.errors import Conflict
    from store.models import WebhookDelivery

    jid = _running_job_with_hook()
    outcome: list[str] = []

    def cancel() -> None:
        with session_scope() as s:
            try:
                services.cancel_job(s, services.get_job(s, jid))
                outcome.append("cancelled")
            except Conflict as exc:
                outcome.append(f"409: {exc.detail}")

    with session_scope() as w:  # what pipeline._finish does, held open
        job = w.get(Job, jid, with_for_update=True)
        assert job is not None
        job.state = "succeeded"
        webhooks.job_finished(w, job)
        w.flush()
        api = threading.Thread(target=cancel)
        api.start()
        api.join(timeout=1.5)
        assert api.is_alive(), "the cancel did not wait for the worker's lock"
    api.join(timeout=30)
    assert len(outcome) == 1 and outcome[0].startswith("409") and "already succeeded" in outcome[0]
    with session_scope() as s:
        assert s.get(Job, jid).state == "succeeded"
        events = [d.event for d in s.query(WebhookDelivery).filter(WebhookDelivery.job_id == jid)]
    assert events == ["job.succeeded"]
