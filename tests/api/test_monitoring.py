"""GET /metrics: what operations staff alert on, in the Prometheus text format (real PostgreSQL;
the database is shared by the session's tests, so the checks are on differences)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from store.db import session_scope
from store.models import Job, utcnow
from store.settings import get_settings

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


TOKEN = "metrics-token-" + "m" * 32


def test_metrics_stay_open_without_a_token_setting(client: TestClient) -> None:
    # no ELSNET_METRICS_TOKEN: as before, any caller reads the aggregates (no key, a wrong bearer)
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer whatever"}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 200 and "elsnet_jobs" in r.text


def test_a_metrics_token_is_required_once_set_and_api_keys_do_not_do(client: TestClient,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the operator sets a metrics token (read per request, like every setting)
    monkeypatch.setenv("ELSNET_METRICS_TOKEN", TOKEN)
    get_settings.cache_clear()
    # when / then: no token, a wrong one, or an admin API key (the client's default header) -> 401
    for headers in ({"Authorization": ""}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}, {}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer" and "elsnet_" not in r.text
        detail = r.json()["detail"]
        assert "ELSNET_METRICS_TOKEN" in detail and "authorization: {credentials: <token>}" in detail
        assert "bearer_token" in detail and "API keys are not accepted" in detail
    # the right token reads the metrics (any case of the scheme, as HTTP allows)
    for scheme in ("Bearer", "bearer"):
        r = client.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "elsnet_jobs" in r.text
    # the API itself still takes the key, not the metrics token
    assert client.get("/api/v1/projects").status_code == 200
    assert client.get("/api/v1/projects", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
