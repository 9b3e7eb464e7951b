"""Least privilege: a reader key only reads, a key scoped to projects reaches only those (404 for
the rest, as if they did not exist), an unscoped editor changes and deletes everywhere but does
not manage keys (real app, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from store import exemplars
from store.db import session_scope
from store.models import Job, utcnow
from tests import factories as f
from tests.api.conftest import LABELS
from tests.api.test_deletion import annotate, trained_model, upload
from tests.api.test_dicomweb import stow_body
from tests.api.test_export_jobs import finish_export_job

NIFTI = f.nifti_bytes(f.volume(seed=7))
LABEL = f.nifti_bytes(f.label_map())
# every changing route of the API with a request a client would send (paths filled from a "side")
CHANGES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/projects"): {"json": {"name": "new", "labels": LABELS}},
    ("PATCH", "/api/v1/projects/{project_id}"): {"json": {"auto_segment": True}},
    ("DELETE", "/api/v1/projects/{project_id}"): {},
    ("POST", "/api/v1/projects/{project_id}/studies"): {"files": {"file": ("new.nii.gz", NIFTI)}},
    ("DELETE", "/api/v1/projects/{project_id}/studies/{study_id}"): {},
    ("PUT", "/api/v1/projects/{project_id}/studies/{study_id}/annotation"): {"files": {"file": ("l.nii.gz", LABEL)}},
    ("DELETE", "/api/v1/projects/{project_id}/studies/{study_id}/annotation"): {},
    ("POST", "/api/v1/projects/{project_id}/studies/{study_id}/annotation/from-mask"): {},
    ("PUT", "/api/v1/projects/{project_id}/studies/{study_id}/reference"): {"files": {"file": ("r.nii.gz", LABEL)}},
    ("DELETE", "/api/v1/projects/{project_id}/studies/{study_id}/reference"): {},
    ("POST", "/api/v1/projects/{project_id}/jobs"): {"json": {"kind": "train", "preset": "tiny"}},
    ("POST", "/api/v1/jobs/{job_id}/cancel"): {},
    ("POST", "/api/v1/projects/{project_id}/studies/dicomweb"): {
        "json": {"server": "pacs", "study_instance_uid": "1.2.826.0.1.3680043.8.498.1"}},
    ("POST", "/api/v1/projects/{project_id}/studies/{study_id}/mask/dicomweb"): {"json": {"server": "pacs"}},
    ("POST", "/api/v1/projects/{project_id}/dicomweb/studies"): {"stow": True},
    ("POST", "/api/v1/projects/{project_id}/webhooks"): {"json": {"url": "https://ris.hospital.example/hook"}},
    ("DELETE", "/api/v1/projects/{project_id}/webhooks/{webhook_id}"): {},
    ("POST", "/api/v1/keys"): {"json": {"name": "mine", "role": "admin"}},
    ("DELETE", "/api/v1/keys/{key_id}"): {},
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(client: TestClient, name: str, **grant: Any) -> dict:
    r = client.post("/api/v1/keys", json={"name": name, **grant})
    assert r.status_code == 201, r.text
    return dict(r.json())


def side(client: TestClient, name: str, seed: int, tmp: Path) -> dict[str, str]:
    """A project with one of everything: an annotated study with a mask, a model, an ended
    train job, a finished export job (its zip), a webhook (made with the admin key)."""
    r = client.post("/api/v1/projects", json={"name": name, "labels": LABELS})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    sid = upload(client, pid, seed)["id"]
    annotate(client, pid, sid)
    model_id = trained_model(pid, sid, [sid])
    job = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "train", "preset": "tiny"})
    assert job.status_code == 202, job.text
    assert client.post(f"/api/v1/jobs/{job.json()['id']}/cancel").status_code == 202  # ended: its events end
    hook = client.post(f"/api/v1/projects/{pid}/webhooks", json={"url": "https://ris.hospital.example/e"})
    assert hook.status_code == 201, hook.text
    ranked(pid, sid)
    export = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "export"})
    assert export.status_code == 202, export.text
    finish_export_job(export.json()["id"], tmp)
    return {"project_id": pid, "study_id": sid, "model_id": model_id, "job_id": job.json()["id"],
            "webhook_id": hook.json()["id"], "export_job_id": export.json()["id"]}


def ranked(pid: str, sid: str) -> None:
    """A finished rank job's ranking (as worker/pipeline.py leaves it), for GET .../exemplar-ranking."""
    with session_scope() as s:
        doc = exemplars.ranking_document([(0, 1.0)], [{"study_id": sid, "name": "s", "is_exemplar": True}], [])
        s.add(Job(project_id=pid, kind="rank", params={"study_ids": [sid]}, state="succeeded", progress=1.0,
                  metrics=doc, finished_at=utcnow()))


def reads(s: dict[str, str]) -> list[str]:
    p, st = f"/api/v1/projects/{s['project_id']}", f"/api/v1/projects/{s['project_id']}/studies/{s['study_id']}"
    job, model = f"/api/v1/jobs/{s['job_id']}", f"/api/v1/models/{s['model_id']}"
    return [p, f"{p}/studies", st, f"{st}/volume", f"{st}/annotation", f"{st}/mask", f"{st}/completion",
            f"{st}/thumbnail.png", f"{p}/models", model, f"{model}/artifact", f"{p}/jobs", job, f"{job}/metrics",
            f"{job}/events", f"{p}/webhooks", f"{p}/webhooks/{s['webhook_id']}/deliveries", f"{p}/exemplar-ranking",
            f"/api/v1/jobs/{s['export_job_id']}/download"]


def send(client: TestClient, method: str, template: str, ids: dict[str, str], key: str) -> Any:
    spec = CHANGES[(method, template)]
    path = template.format(**ids)
    if spec.get("stow"):
        body, ctype = stow_body(f.dicom_series(n=3))
        return client.request(method, path, content=body, headers={**bearer(key), "Content-Type": ctype})
    return client.request(method, path, json=spec.get("json"), files=spec.get("files"), headers=bearer(key))


@pytest.fixture
def two_projects(client: TestClient, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    return side(client, "ours", 1, tmp_path), side(client, "theirs", 2, tmp_path)


def test_every_changing_route_is_listed_here(client: TestClient) -> None:
    """A new changing route must be added to CHANGES, so the tests below decide who may call it."""
    paths = client.get("/openapi.json").json()["paths"]
    changing = {(m.upper(), p) for p, ops in paths.items() for m in ops if m not in ("get", "head")}
    assert changing == set(CHANGES)


def test_a_reader_key_reads_everything_and_every_change_is_403(
    client: TestClient, two_projects: tuple[dict[str, str], dict[str, str]]
) -> None:
    ours, _ = two_projects
    reader = new_key(client, "viewer", role="reader")
    assert (reader["role"], reader["project_ids"], reader["is_admin"]) == ("reader", None, False)
    before = {path: client.get(path).content for path in reads(ours)}
    # reads: everything an editor may read, downloads included (the job's event stream ends: it ended)
    for path in [*reads(ours), "/api/v1/projects", "/api/v1/dicomweb/servers"]:
        r = client.get(path, headers=bearer(reader["key"]))
        assert r.status_code == 200, (path, r.text)
    # changes: every one refused, saying which role it needs
    ids = {**ours, "key_id": reader["id"]}
    for method, template in CHANGES:
        r = send(client, method, template, ids, reader["key"])
        assert r.status_code == 403, (method, template, r.text)
        assert "'reader'" in r.json()["detail"] and "'editor' or 'admin'" in r.json()["detail"], r.text
    # ... a cohort export among them: a reader downloads a prepared zip but cannot prepare one
    r = client.post(f"/api/v1/projects/{ours['project_id']}/jobs", json={"kind": "export"}, headers=bearer(reader["key"]))
    assert r.status_code == 403 and "'reader'" in r.json()["detail"], r.text
    # and nothing changed: the project, its study, annotation, job, webhook read the same; no key was made
    for path, body in before.items():
        if not path.endswith("/events"):
            assert client.get(path).content == body, path
    assert client.get(f"/api/v1/jobs/{ours['job_id']}").json()["state"] == "cancelled"
    assert "mine" not in [k["name"] for k in client.get("/api/v1/keys").json()["data"]]
    # the audit trail has the refusals, with the reader's prefix
    audit = client.get("/api/v1/audit", params={"api_key_id": reader["id"]}).json()["data"]
    refusals = [e for e in audit if e["method"] != "GET"]  # the rest: its downloads
    assert len(refusals) == len(CHANGES) + 1 and {e["status_code"] for e in refusals} == {403}
    exports = [(e["path"], e["status_code"], e["project_id"]) for e in audit if e["action"] == "masks.export"]
    assert exports == [(f"/api/v1/jobs/{ours['export_job_id']}/download", 200, ours["project_id"])]
    assert {e["key_prefix"] for e in audit} == {reader["prefix"]}


@pytest.mark.parametrize("role", ["editor", "reader"])
def test_a_scoped_key_reaches_only_its_project(
    client: TestClient, two_projects: tuple[dict[str, str], dict[str, str]], role: str
) -> None:
    ours, theirs = two_projects
    scoped = new_key(client, "PACS bridge", role=role, project_ids=[ours["project_id"]])
    assert (scoped["role"], scoped["project_ids"]) == (role, [ours["project_id"]])
    h = bearer(scoped["key"])
    # the list shows its project only
    listed = client.get("/api/v1/projects", headers=h).json()
    assert [p["id"] for p in listed["data"]] == [ours["project_id"]] and listed["count"] == 1
    # its project reads as usual; every part of the other project answers 404, as if it did not exist
    for mine, other in zip(reads(ours), reads(theirs), strict=True):
        assert client.get(mine, headers=h).status_code == 200, mine
        r = client.get(other, headers=h)
        assert r.status_code == 404, (other, r.text)
    # ... in the words used for an id that exists nowhere
    for what, path in (("project", "/api/v1/projects/{}"), ("job", "/api/v1/jobs/{}"), ("model", "/api/v1/models/{}")):
        r = client.get(path.format(theirs[f"{what}_id"]), headers=h)
        assert r.json()["detail"] == f"{what} {theirs[what + '_id']} not found"
        assert client.get(path.format("nope")).json()["detail"] == f"{what} nope not found"
    # a model of the other project cannot be named from inside its own project either
    r = client.get(f"/api/v1/projects/{ours['project_id']}/studies/{ours['study_id']}/mask",
                   params={"model": theirs["model_id"]}, headers=h)
    assert r.status_code == 404 and "not found in project" in r.json()["detail"]
    # changes to the other project: 404 for an editor, 403 (role first, before any lookup) for a reader
    theirs_ids = {**theirs, "key_id": scoped["id"]}
    for method, template in CHANGES:
        if "{project_id}" in template or "{job_id}" in template:
            r = send(client, method, template, theirs_ids, scoped["key"])
            assert r.status_code == (404 if role == "editor" else 403), (method, template, r.text)
    # a scoped key cannot create a project (it could not reach it), nor search the PACS (every
    # patient there); the other project is untouched
    r = client.post("/api/v1/projects", json={"name": "x", "labels": LABELS}, headers=h)
    assert r.status_code == 403
    assert ("cannot create projects" if role == "editor" else "'reader'") in r.json()["detail"]
    for search in ("/api/v1/dicomweb/pacs/studies", "/api/v1/dicomweb/pacs/studies/1.2.3/series"):
        r = client.get(search, headers=h)
        assert r.status_code == 403 and "search a PACS" in r.json()["detail"], (search, r.text)
    assert client.get(f"/api/v1/projects/{theirs['project_id']}").json()["study_count"] == 1
    assert client.get(f"/api/v1/jobs/{theirs['job_id']}").json()["state"] == "cancelled"
    assert client.get(f"/api/v1/projects/{theirs['project_id']}/webhooks").json()["count"] == 1


def test_a_scoped_editor_pushes_studies_into_its_project_and_deletes_there(
    client: TestClient, two_projects: tuple[dict[str, str], dict[str, str]]
) -> None:
    # given: the PACS integration's key, limited to one project
    ours, theirs = two_projects
    pacs = bearer(new_key(client, "PACS push", project_ids=[ours["project_id"]])["key"])
    # when: the PACS pushes a series (STOW-RS) into its project, and into the other one
    body, ctype = stow_body(f.dicom_series(n=4, rows=10, cols=12))
    pushed = client.post(f"/api/v1/projects/{ours['project_id']}/dicomweb/studies", content=body,
                         headers={**pacs, "Content-Type": ctype})
    refused = client.post(f"/api/v1/projects/{theirs['project_id']}/dicomweb/studies", content=body,
                          headers={**pacs, "Content-Type": ctype})
    # then
    assert pushed.status_code == 200, pushed.text
    assert refused.status_code == 404
    assert client.get(f"/api/v1/projects/{ours['project_id']}").json()["study_count"] == 2
    assert client.get(f"/api/v1/projects/{theirs['project_id']}").json()["study_count"] == 1
    # it may delete in its project (editor), and then the project itself
    new_id = pushed.headers["X-Elsnet-Study-Ids"]
    assert client.delete(f"/api/v1/projects/{ours['project_id']}/studies/{new_id}", headers=pacs).status_code == 204
    assert client.delete(f"/api/v1/projects/{ours['project_id']}", headers=pacs).status_code == 204
    assert client.get(f"/api/v1/projects/{ours['project_id']}").status_code == 404
    # its project gone, it reaches nothing at all: deleting a project never widens a scope
    assert client.get("/api/v1/projects", headers=pacs).json() == {"data": [], "count": 0}
    assert client.get(f"/api/v1/projects/{theirs['project_id']}", headers=pacs).status_code == 404


def test_an_unscoped_editor_changes_and_deletes_everywhere_but_manages_no_keys(
    client: TestClient, two_projects: tuple[dict[str, str], dict[str, str]]
) -> None:
    ours, theirs = two_projects
    editor = new_key(client, "lab")  # no role given: an editor, as every plain key was before roles
    assert (editor["role"], editor["project_ids"], editor["is_admin"]) == ("editor", None, False)
    h = bearer(editor["key"])
    made = client.post("/api/v1/projects", json={"name": "made by lab", "labels": LABELS}, headers=h)
    assert made.status_code == 201
    assert made.json()["id"] in [p["id"] for p in client.get("/api/v1/projects", headers=h).json()["data"]]
    pid, sid = ours["project_id"], ours["study_id"]
    expected = [
        (("PUT", "/api/v1/projects/{project_id}/studies/{study_id}/annotation"), 200),
        (("POST", "/api/v1/projects/{project_id}/studies"), 201),
        (("POST", "/api/v1/projects/{project_id}/jobs"), 202),
        (("POST", "/api/v1/projects/{project_id}/webhooks"), 201),
        (("DELETE", "/api/v1/projects/{project_id}/webhooks/{webhook_id}"), 204),
        (("PATCH", "/api/v1/projects/{project_id}"), 200),
    ]
    for (method, template), status in expected:
        r = send(client, method, template, ours, editor["key"])
        assert r.status_code == status, (method, template, r.text)
    job = client.get(f"/api/v1/projects/{pid}/jobs", headers=h).json()["data"][0]
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h).json()["state"] == "cancelled"
    assert client.delete(f"/api/v1/projects/{pid}/studies/{sid}", headers=h).status_code == 204
    assert client.delete(f"/api/v1/projects/{theirs['project_id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/projects/{theirs['project_id']}").status_code == 404
    # keys and the audit trail stay with admin keys
    for method, path in (("GET", "/api/v1/keys"), ("POST", "/api/v1/keys"), ("GET", "/api/v1/audit")):
        r = client.request(method, path, json={"name": "x"} if method == "POST" else None, headers=h)
        assert r.status_code == 403 and "admin API key" in r.json()["detail"], (method, path)
