from __future__ import annotations

from fastapi.testclient import TestClient

from tests import factories as f


def test_train_without_exemplar_is_422(client: TestClient, project: dict) -> None:
    r = client.post(f"/api/v1/projects/{project['id']}/jobs", json={"kind": "train", "preset": "fast"})
    assert r.status_code == 422 and "no exemplar" in r.json()["detail"]
    assert client.get(f"/api/v1/projects/{project['id']}/jobs").json()["count"] == 0


def test_bad_job_bodies(client: TestClient, project: dict) -> None:
    r = client.post(f"/api/v1/projects/{project['id']}/jobs", json={"kind": "explode"})
    assert r.status_code == 422 and "kind" in r.json()["detail"]
    r = client.post(f"/api/v1/projects/{project['id']}/jobs", json={"kind": "infer"})
    assert r.status_code == 422 and "no model" in r.json()["detail"]


def _exemplar(client: TestClient, project: dict) -> None:
    s = client.post(f"/api/v1/projects/{project['id']}/studies", files={"file": ("a.nii.gz", f.nifti_bytes(f.volume()))}).json()
    r = client.put(
        f"/api/v1/projects/{project['id']}/studies/{s['id']}/annotation",
        files={"file": ("l.nii.gz", f.nifti_bytes(f.label_map()))},
    )
    assert r.status_code == 200


def test_train_job_queued_idempotent_and_cancellable(client: TestClient, project: dict) -> None:
    _exemplar(client, project)
    h = {"Idempotency-Key": "train-1"}
    a = client.post(f"/api/v1/projects/{project['id']}/jobs", json={"kind": "train", "preset": "tiny"}, headers=h)
    b = client.post(f"/api/v1/projects/{project['id']}/jobs", json={"kind": "train", "preset": "tiny"}, headers=h)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"] and a.json()["state"] == "queued"
    assert client.get(f"/api/v1/projects/{project['id']}/jobs").json()["count"] == 1
    c = client.post(f"/api/v1/jobs/{a.json()['id']}/cancel")
    assert c.status_code == 202 and c.json()["state"] == "cancelled"
    assert client.get(f"/api/v1/jobs/{a.json()['id']}").json()["state"] == "cancelled"
    # the event stream of an ended job closes with its final state
    with client.stream("GET", f"/api/v1/jobs/{a.json()['id']}/events") as r:
        text = "".join(r.iter_text())
    assert '"state": "cancelled"' in text
