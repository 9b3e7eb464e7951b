"""A hospital's server is told when jobs end: real API, PostgreSQL, Redis, a real Celery worker
process sending the webhooks, and a real HTTP receiver. No training (seconds, not minutes)."""

from __future__ import annotations

import time

import pytest

from store.db import get_sessionmaker
from store.models import Model
from store.webhooks import verify
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def test_worker_sends_one_signed_post_per_ended_job(service, start_worker) -> None:  # type: ignore[no-untyped-def]
    api, env = service
    pid = api.project({"1": "liver"})
    with Receiver(status=200) as rx:
        r = api.c.post(f"/api/v1/projects/{pid}/webhooks", json={"url": rx.url})
        assert r.status_code == 201, r.text
        hook = r.json()
        # a model version whose artifact is gone: an infer job with it fails fast in the worker
        with get_sessionmaker()() as s, s.begin():
            model = Model(project_id=pid, job_id="lost", artifact_key=f"models/{pid}-lost/model.tar.gz",
                          config={}, metrics={}, exemplar_study_ids=[])
            s.add(model)
        cancelled = api.job(pid, {"kind": "infer", "model_id": model.id})
        assert api.c.post(f"/api/v1/jobs/{cancelled['id']}/cancel").json()["state"] == "cancelled"
        failing = api.job(pid, {"kind": "infer", "model_id": model.id})
        time.sleep(1.0)
        assert rx.snapshot() == []  # the API process never sends webhooks
        # when: a worker runs (it sends the cancellation queued before it started, too)
        start_worker({**env, "ELSNET_WEBHOOK_INTERVAL_S": "0.5"})
        assert api.wait(failing["id"], timeout=120)["state"] == "failed"

        def ours() -> list:  # type: ignore[type-arg]
            return [p for p in rx.snapshot() if p.json["job"]["project_id"] == pid]

        t0 = time.time()
        while len(ours()) < 2 and time.time() - t0 < 30:
            time.sleep(0.2)
        time.sleep(2.0)  # a few more delivery ticks: nothing is sent twice
        posts = ours()
    # then: exactly one signed POST per ended job, with the right event
    assert len(posts) == 2, [p.json["event"] for p in posts]
    by_event = {p.headers["x-elsnet-event"]: p for p in posts}
    assert set(by_event) == {"job.cancelled", "job.failed"}
    assert by_event["job.cancelled"].json["job"]["id"] == cancelled["id"]
    assert by_event["job.failed"].json["job"]["id"] == failing["id"]
    assert "not found" in by_event["job.failed"].json["job"]["error"]
    for p in posts:
        assert verify(hook["secret"], p.body, p.headers["x-elsnet-signature"])
        assert not verify("whsec_someone-else", p.body, p.headers["x-elsnet-signature"])
        assert p.headers["x-elsnet-delivery"] == p.json["delivery_id"]
        assert p.json["event"] == p.headers["x-elsnet-event"]
    # and IT sees both delivered over REST
    rows = api.c.get(f"/api/v1/projects/{pid}/webhooks/{hook['id']}/deliveries").json()
    assert rows["count"] == 2
    assert {(d["state"], d["attempts"], d["last_status_code"]) for d in rows["data"]} == {("delivered", 1, 200)}
    assert {d["id"] for d in rows["data"]} == {p.json["delivery_id"] for p in posts}
