"""Webhooks over REST: register, list, delete, see why deliveries fail (real app, PostgreSQL)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from store.db import get_sessionmaker
from store.models import utcnow
from store.webhooks import deliver_due
from tests import factories as f
from tests.conftest import free_port

EVENTS = ["job.succeeded", "job.failed", "job.cancelled"]


def _hooks(client: TestClient, pid: str) -> str:
    return f"/api/v1/projects/{pid}/webhooks"


def test_create_list_delete_and_the_secret_is_shown_once(client: TestClient, project: dict) -> None:
    # when
    r = client.post(_hooks(client, project["id"]), json={"url": "https://ris.hospital.example/elsnet"})
    # then
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["url"] == "https://ris.hospital.example/elsnet" and hook["events"] == EVENTS
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
    listed = client.get(_hooks(client, project["id"]))
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert listed.json()["data"][0]["id"] == hook["id"]
    assert "secret" not in listed.json()["data"][0] and hook["secret"] not in listed.text
    only_failures = client.post(_hooks(client, project["id"]),
                                json={"url": "http://10.0.0.5:8080/hook", "events": ["job.failed"]})
    assert only_failures.status_code == 201 and only_failures.json()["events"] == ["job.failed"]
    assert only_failures.json()["secret"] != hook["secret"]
    # delete
    assert client.delete(f"{_hooks(client, project['id'])}/{hook['id']}").status_code == 204
    left = client.get(_hooks(client, project["id"])).json()
    assert [h["id"] for h in left["data"]] == [only_failures.json()["id"]]
    again = client.delete(f"{_hooks(client, project['id'])}/{hook['id']}")
    assert again.status_code == 404 and hook["id"] in again.json()["detail"]


def test_bad_url_or_event_is_422_saying_what_to_fix(client: TestClient, project: dict) -> None:
    for url in ("ftp://ris.example/hook", "https:///no-host", "ris.example/hook", "javascript:alert(1)"):
        r = client.post(_hooks(client, project["id"]), json={"url": url})
        assert r.status_code == 422, url
        assert "http:// or https://" in r.json()["detail"] and "host" in r.json()["detail"]
    r = client.post(_hooks(client, project["id"]), json={"url": "https://ris.example/h", "events": ["job.exploded"]})
    assert r.status_code == 422
    assert "job.exploded" in r.json()["detail"] and "job.succeeded" in r.json()["detail"]
    r = client.post(_hooks(client, project["id"]), json={"url": "https://ris.example/h", "events": []})
    assert r.status_code == 422 and "at least one" in r.json()["detail"]
    assert client.get(_hooks(client, project["id"])).json()["count"] == 0


def test_another_projects_webhook_is_404(client: TestClient, project: dict) -> None:
    other = client.post("/api/v1/projects", json={"name": "other", "labels": {"1": "liver"}}).json()
    hook = client.post(_hooks(client, project["id"]), json={"url": "https://ris.example/h"}).json()
    assert client.delete(f"{_hooks(client, other['id'])}/{hook['id']}").status_code == 404
    assert client.get(f"{_hooks(client, other['id'])}/{hook['id']}/deliveries").status_code == 404
    assert client.get(_hooks(client, other["id"])).json()["count"] == 0
    assert client.get(_hooks(client, project["id"])).json()["count"] == 1  # untouched
    assert client.get("/api/v1/projects/nope/webhooks").status_code == 404


def test_webhooks_need_an_api_key(client: TestClient, project: dict) -> None:
    no_key = {"Authorization": ""}
    r = client.post(_hooks(client, project["id"]), json={"url": "https://ris.example/h"}, headers=no_key)
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    assert client.get(_hooks(client, project["id"]), headers=no_key).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert client.get(_hooks(client, project["id"]), headers=wrong).status_code == 401
    assert client.get(_hooks(client, project["id"])).json()["count"] == 0  # nothing was created


def test_a_cancelled_job_queues_a_delivery_and_its_failure_is_visible(client: TestClient, project: dict) -> None:
    # given: a hook whose server is down, and a queued job
    dead = f"http://127.0.0.1:{free_port()}/hook"
    hook = client.post(_hooks(client, project["id"]), json={"url": dead}).json()
    s = client.post(f"/api/v1/projects/{project['id']}/studies", files={"file": ("a.nii.gz", f.nifti_bytes(f.volume()))})
    client.put(f"/api/v1/projects/{project['id']}/studies/{s.json()['id']}/annotation",
               files={"file": ("l.nii.gz", f.nifti_bytes(f.label_map()))})
    job = client.post(f"/api/v1/projects/{project['id']}/jobs", json={"kind": "train", "preset": "tiny"}).json()
    deliveries = f"{_hooks(client, project['id'])}/{hook['id']}/deliveries"
    assert client.get(deliveries).json()["count"] == 0
    # when: the user cancels it
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").json()["state"] == "cancelled"
    # then: one pending delivery, not sent by the API process
    (d,) = client.get(deliveries).json()["data"]
    assert (d["event"], d["job_id"], d["state"], d["attempts"]) == ("job.cancelled", job["id"], "pending", 0)
    assert d["payload"]["job"]["state"] == "cancelled"
    # a worker's delivery attempt fails: IT sees why, and when it is tried again
    with httpx.Client() as http:
        deliver_due(get_sessionmaker(), utcnow(), http)
    (d,) = client.get(deliveries).json()["data"]
    assert d["state"] == "pending" and d["attempts"] == 1 and d["last_status_code"] is None
    assert "ConnectError" in d["last_error"] and d["next_attempt_at"] > d["created_at"]
    assert client.get(deliveries, params={"state": "failed"}).json()["count"] == 0
    assert client.get(deliveries, params={"state": "bogus"}).status_code == 422


def test_the_operator_can_limit_which_hosts_webhooks_call(client: TestClient, project: dict, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from store.settings import get_settings

    monkeypatch.setenv("ELSNET_WEBHOOK_ALLOWED_HOSTS", "ris.hospital.example, *.lab.local")
    get_settings.cache_clear()
    url = _hooks(client, project["id"])
    r = client.post(url, json={"url": "http://169.254.169.254/latest/meta-data"})
    assert r.status_code == 422 and "ris.hospital.example, *.lab.local" in r.json()["detail"]
    assert "'169.254.169.254'" in r.json()["detail"]
    assert client.post(url, json={"url": "https://RIS.hospital.example/events"}).status_code == 201
    assert client.post(url, json={"url": "http://pipeline.lab.local:8080/hook"}).status_code == 201
    assert client.get(url).json()["count"] == 2
    get_settings.cache_clear()
