"""GET /metrics: what operations staff alert on, in the Prometheus text format (real PostgreSQL;
the database is shared by the session's tests, so the checks are on differences)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from store.db import session_scope
from store.models import Job, utcnow

LINE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers={"Authorization": ""})  # no key needed, like /health
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for line in r.text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP elsnet_", "# TYPE elsnet_"))
            continue
        m = LINE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m["labels"] or "")))
        out[(m["name"], labels)] = float(m["value"])
    return out


def test_metrics_count_jobs_waiting_stalled_and_timed(client: TestClient, project: dict) -> None:
    before = scrape(client)
    now = utcnow()
    # given: a train job waiting 10 min, a running infer job whose worker went quiet 10 min
    # ago, and a train job that ran 90 s and succeeded
    with session_scope() as s:
        pid = project["id"]
        s.add(Job(project_id=pid, kind="train", state="queued", created_at=now - timedelta(minutes=10)))
        s.add(Job(project_id=pid, kind="infer", state="running", started_at=now - timedelta(minutes=12),
                  heartbeat_at=now - timedelta(minutes=10)))
        s.add(Job(project_id=pid, kind="train", state="succeeded", started_at=now - timedelta(seconds=100),
                  finished_at=now - timedelta(seconds=10)))
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    # then
    assert delta("elsnet_jobs", kind="train", state="queued") == 1
    assert delta("elsnet_jobs", kind="infer", state="running") == 1
    assert delta("elsnet_jobs", kind="train", state="succeeded") == 1
    assert after[("elsnet_oldest_queued_job_age_seconds", ())] >= 600
    assert delta("elsnet_running_jobs_without_heartbeat") == 1
    assert delta("elsnet_job_duration_seconds_count", kind="train", state="succeeded") == 1
    assert abs(delta("elsnet_job_duration_seconds_sum", kind="train", state="succeeded") - 90) < 1e-6
    assert after[("elsnet_objects", (("kind", "projects"),))] >= 1
    assert ("elsnet_webhook_deliveries", (("state", "failed"),)) in after
