from __future__ import annotations

from fastapi.testclient import TestClient


def test_requires_api_key(client: TestClient) -> None:
    r = client.get("/api/v1/projects", headers={"Authorization": ""})
    assert r.status_code == 401
    assert "API key" in r.json()["detail"]
    r = client.get("/api/v1/projects", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.json()["database"] == "ok" and r.json()["storage"] == "ok"


def test_create_list_read_project(client: TestClient) -> None:
    # given / when
    r = client.post("/api/v1/projects", json={"name": "Abdomen", "labels": {"2": "kidney", "1": "liver"}})
    # then
    assert r.status_code == 201
    p = r.json()
    assert p["labels"] == {"1": "liver", "2": "kidney"}
    assert set(p["colors"]) == {"1", "2"}
    listed = client.get("/api/v1/projects").json()
    assert p["id"] in [x["id"] for x in listed["data"]]
    assert client.get(f"/api/v1/projects/{p['id']}").json()["name"] == "Abdomen"


def test_bad_labels_are_422_with_reason(client: TestClient) -> None:
    r = client.post("/api/v1/projects", json={"name": "x", "labels": {"0": "background"}})
    assert r.status_code == 422
    assert "1..254" in r.json()["detail"]
    r = client.post("/api/v1/projects", json={"name": "x", "labels": {"a": "liver"}})
    assert r.status_code == 422 and "not an integer" in r.json()["detail"]


def test_unknown_ids_are_404(client: TestClient) -> None:
    r = client.get("/api/v1/projects/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert client.get("/api/v1/jobs/nope").status_code == 404
    assert client.get("/api/v1/models/nope").status_code == 404


def test_idempotency_key_replays_and_rejects_other_body(client: TestClient) -> None:
    body = {"name": "idem", "labels": {"1": "liver"}}
    h = {"Idempotency-Key": "abc-1"}
    a = client.post("/api/v1/projects", json=body, headers=h)
    b = client.post("/api/v1/projects", json=body, headers=h)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    names = [p["name"] for p in client.get("/api/v1/projects").json()["data"]]
    assert names.count("idem") == 1
    c = client.post("/api/v1/projects", json={**body, "name": "other"}, headers=h)
    assert c.status_code == 422 and "different request body" in c.json()["detail"]
