"""API keys over REST: admin keys create (with a role and an optional project scope), list and
revoke keys; a revoked key stops at once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import KEY


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(client: TestClient, name: str, is_admin: bool = False) -> dict:
    r = client.post("/api/v1/keys", json={"name": name, "is_admin": is_admin})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_admin_creates_lists_and_revokes_a_key(client: TestClient) -> None:
    # given: the bootstrap key is an admin key
    created = new_key(client, "PACS bridge")
    assert created["key"].startswith(created["prefix"]) and len(created["key"]) > 30
    assert created["name"] == "PACS bridge" and created["is_admin"] is False and created["revoked_at"] is None
    # the new key works
    assert client.get("/api/v1/projects", headers=bearer(created["key"])).status_code == 200
    # the list shows its prefix, never its value or hash
    r = client.get("/api/v1/keys")
    assert r.status_code == 200
    listed = {k["id"]: k for k in r.json()["data"]}
    assert r.json()["count"] == len(listed)
    assert listed[created["id"]]["prefix"] == created["key"][:12]
    assert "key" not in listed[created["id"]] and "key_hash" not in listed[created["id"]]
    assert created["key"] not in r.text and KEY not in r.text
    # when
    r = client.delete(f"/api/v1/keys/{created['id']}")
    # then: the very next request with it is refused
    assert r.status_code == 204
    r = client.get("/api/v1/projects", headers=bearer(created["key"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    revoked = {k["id"]: k for k in client.get("/api/v1/keys").json()["data"]}[created["id"]]
    assert revoked["revoked_at"] is not None
    # revoking again changes nothing; an unknown id is 404
    assert client.delete(f"/api/v1/keys/{created['id']}").status_code == 204
    r = client.delete("/api/v1/keys/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_a_non_admin_key_cannot_manage_keys(client: TestClient) -> None:
    user = new_key(client, "radiologist")
    h = bearer(user["key"])
    for method, path, body in (
        ("GET", "/api/v1/keys", None),
        ("POST", "/api/v1/keys", {"name": "mine", "is_admin": True}),
        ("DELETE", f"/api/v1/keys/{user['id']}", None),
    ):
        r = client.request(method, path, json=body, headers=h)
        assert r.status_code == 403, (method, r.text)
        assert "admin API key" in r.json()["detail"]
    # nothing was created or revoked by those calls
    names = [k["name"] for k in client.get("/api/v1/keys").json()["data"] if k["revoked_at"] is None]
    assert "mine" not in names and "radiologist" in names
    assert client.get("/api/v1/projects", headers=h).status_code == 200


def test_an_admin_key_made_over_rest_manages_keys_and_bad_bodies_are_422(client: TestClient) -> None:
    admin = new_key(client, "it department", is_admin=True)
    r = client.post("/api/v1/keys", json={"name": "made by it"}, headers=bearer(admin["key"]))
    assert r.status_code == 201 and r.json()["is_admin"] is False
    assert r.headers["cache-control"] == "no-store"
    for bad in ({"name": ""}, {"name": "   "}, {}):
        r = client.post("/api/v1/keys", json=bad)
        assert r.status_code == 422 and "name" in r.json()["detail"], bad
    # another admin exists (the bootstrap key), so this one can go
    assert client.delete(f"/api/v1/keys/{admin['id']}").status_code == 204
    assert client.get("/api/v1/keys", headers=bearer(admin["key"])).status_code == 401


def test_the_last_active_admin_key_cannot_be_revoked(client: TestClient) -> None:
    # given: the bootstrap key is the only active admin key (revoke any other left by other tests)
    keys = client.get("/api/v1/keys").json()["data"]
    bootstrap = next(k for k in keys if k["prefix"] == KEY[:12] and k["revoked_at"] is None)
    for k in keys:
        if k["is_admin"] and k["revoked_at"] is None and k["id"] != bootstrap["id"]:
            assert client.delete(f"/api/v1/keys/{k['id']}").status_code == 204
    # when
    r = client.delete(f"/api/v1/keys/{bootstrap['id']}")
    # then
    assert r.status_code == 409
    assert "last active admin key" in r.json()["detail"] and "create another admin key" in r.json()["detail"]
    assert client.get("/api/v1/keys").status_code == 200  # still works
    # with a second admin key active, an admin key can go (here the second revokes itself)
    second = new_key(client, "successor", is_admin=True)
    assert client.delete(f"/api/v1/keys/{second['id']}", headers=bearer(second["key"])).status_code == 204
    assert client.get("/api/v1/keys", headers=bearer(second["key"])).status_code == 401


def test_keys_carry_a_role_and_a_project_scope(client: TestClient, project: dict) -> None:
    # when: a reader limited to one project (named twice), an admin asked for the old way, a default key
    scoped = client.post("/api/v1/keys", json={"name": "viewer", "role": "reader",
                                               "project_ids": [project["id"], project["id"]]})
    old_admin = new_key(client, "old client", is_admin=True)
    plain = new_key(client, "plain")
    # then
    assert scoped.status_code == 201, scoped.text
    assert (scoped.json()["role"], scoped.json()["project_ids"]) == ("reader", [project["id"]])
    assert (old_admin["role"], old_admin["is_admin"]) == ("admin", True)
    assert (plain["role"], plain["project_ids"], plain["is_admin"]) == ("editor", None, False)
    listed = {k["id"]: k for k in client.get("/api/v1/keys").json()["data"]}
    assert {k: listed[scoped.json()["id"]][k] for k in ("role", "project_ids", "is_admin")} == {
        "role": "reader", "project_ids": [project["id"]], "is_admin": False}
    assert listed[old_admin["id"]]["role"] == "admin" and listed[plain["id"]]["project_ids"] is None
    # the new admin key manages keys; an empty scope means all projects
    r = client.post("/api/v1/keys", json={"name": "all", "project_ids": []}, headers=bearer(old_admin["key"]))
    assert r.status_code == 201 and r.json()["project_ids"] is None
    # each key may ask what it is (the page shows its role), never seeing another's
    me = client.get("/api/v1/keys/me", headers=bearer(scoped.json()["key"]))
    assert me.status_code == 200
    assert {k: me.json()[k] for k in ("id", "name", "role", "project_ids")} == {
        "id": scoped.json()["id"], "name": "viewer", "role": "reader", "project_ids": [project["id"]]}
    assert "key" not in me.json() and client.get("/api/v1/keys/me").json()["role"] == "admin"


@pytest.mark.parametrize(("body", "says"), [
    ({"project_ids": ["no-such-project"]}, "no such project no-such-project"),
    ({"role": "owner"}, "role: Input should be 'admin', 'editor' or 'reader'"),
    ({"role": "admin", "project_ids": ["{project}"]}, "admin key cannot be limited to projects"),
    ({"role": "reader", "is_admin": True}, '"is_admin": true asks for an admin key'),
])
def test_a_key_that_cannot_be_granted_is_422_saying_why(client: TestClient, project: dict, body: dict,
                                                        says: str) -> None:
    body = {**body, "project_ids": [p.format(project=project["id"]) for p in body.get("project_ids", [])]}
    before = client.get("/api/v1/keys").json()["count"]
    r = client.post("/api/v1/keys", json={"name": "x", **body})
    assert r.status_code == 422 and says in r.json()["detail"], r.text
    assert client.get("/api/v1/keys").json()["count"] == before
