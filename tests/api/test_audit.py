"""The audit trail answers "who changed or downloaded what, when" — through the real API on
PostgreSQL, for admins only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests import factories as f
from tests.api.conftest import KEY


def test_changes_and_patient_data_downloads_are_recorded_with_the_key(client: TestClient, project: dict) -> None:
    pid = project["id"]
    before = client.get("/api/v1/audit", params={"project_id": pid}).json()["data"]
    # given: a second, non-admin key (a research assistant)
    other = client.post("/api/v1/keys", json={"name": "assistant"}).json()
    as_other = {"Authorization": f"Bearer {other['key']}"}
    # when: the admin uploads, the assistant downloads the volume, lists (not audited),
    # tries to read the audit trail (refused) and deletes the study
    st = client.post(f"/api/v1/projects/{pid}/studies", files={"file": ("a.nii.gz", f.nifti_bytes(f.volume()))}).json()
    assert client.get(f"/api/v1/projects/{pid}/studies/{st['id']}/volume", headers=as_other).status_code == 200
    assert client.get(f"/api/v1/projects/{pid}/studies", headers=as_other).status_code == 200
    assert client.get("/api/v1/audit", headers=as_other).status_code == 403
    assert client.delete(f"/api/v1/projects/{pid}/studies/{st['id']}", headers=as_other).status_code == 204
    # and someone without a valid key tries an upload
    r = client.post(f"/api/v1/projects/{pid}/studies", files={"file": ("b.nii.gz", b"x")},
                    headers={"Authorization": "Bearer stolen"})
    assert r.status_code == 401
    # then: the trail of the project, newest first, with who and the outcome
    events = client.get("/api/v1/audit", params={"project_id": pid}).json()["data"]
    new = [e for e in events if e["id"] not in {b["id"] for b in before}]
    got = [(e["action"], e["status_code"], e["key_prefix"]) for e in new]
    admin_prefix, other_prefix = KEY[:12], other["prefix"]
    assert got == [
        ("study.upload", 401, None),
        ("study.delete", 204, other_prefix),
        ("study.download", 200, other_prefix),
        ("study.upload", 201, admin_prefix),
    ]
    assert all(e["project_id"] == pid and e["client"] for e in new)
    assert new[2]["path"] == f"/api/v1/projects/{pid}/studies/{st['id']}/volume"
    # filters: by action and by key
    downloads = client.get("/api/v1/audit", params={"action": "study.download", "api_key_id": other["id"]}).json()
    assert downloads["count"] == 1 and downloads["data"][0]["path"].endswith("/volume")
    keys = client.get("/api/v1/audit", params={"action": "key.create"}).json()["data"]
    assert keys and keys[0]["status_code"] == 201 and keys[0]["key_prefix"] == admin_prefix
    assert client.get("/api/v1/audit", params={"limit": 0}).status_code == 422
