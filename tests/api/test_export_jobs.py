"""The cohort export as a job: refused before queueing when there is nothing to export, its zip
downloadable only once ready and until it expires, gone with its project or with any of its
studies (real app, PostgreSQL, local object store; a real worker runs the job in
tests/worker/test_export_e2e.py)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from store import cohort
from store.db import session_scope
from store.housekeeping import find_orphans
from store.models import Job, Project, utcnow
from store.storage import get_store
from tests.api.test_deletion import annotate, objects, trained_model, upload


def jobs_url(pid: str) -> str:
    return f"/api/v1/projects/{pid}/jobs"


def finish_export_job(job_id: str, tmp: Path) -> bytes:
    """What a worker leaves behind when an export job succeeds (worker/pipeline.py ``_export``,
    with the same store/cohort.py functions): the zip stored under its key, the job's metrics.
    Returns the zip's bytes."""
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        project = s.get(Project, job.project_id)
        assert project is not None
        table = cohort.rows(s, project, job.params.get("model_id"))
        tmp.mkdir(parents=True, exist_ok=True)
        dest = cohort.write_zip(project, table, job.params["format"], tmp / f"{job_id}.zip")
        data = dest.read_bytes()
        get_store().put_file(cohort.export_key(project.id, job_id), dest)
        job.metrics = cohort.export_document(project, table, job.params["format"], len(data),
                                             hashlib.sha256(data).hexdigest())
        job.state, job.progress, job.stage, job.finished_at = "succeeded", 1.0, "store", utcnow()
    return data


def test_an_export_job_is_refused_before_queueing_when_there_is_nothing_to_export(
    client: TestClient, project: dict,
) -> None:
    pid = project["id"]
    sid = upload(client, pid, seed=1)["id"]
    # given: no study has a mask; the direct download says so with a 404
    direct = client.get(f"/api/v1/projects/{pid}/masks.zip")
    assert direct.status_code == 404
    # when / then: the job is refused with the same words, as a 422 like the other kinds' refusals
    r = client.post(jobs_url(pid), json={"kind": "export"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == direct.json()["detail"]
    assert "train a model" in r.json()["detail"]
    # an unknown format, a model that is not the project's: refused too, nothing queued
    r = client.post(jobs_url(pid), json={"kind": "export", "format": "png"})
    assert r.status_code == 422 and "format" in r.json()["detail"] and "dicom-seg" in r.json()["detail"], r.text
    r = client.post(jobs_url(pid), json={"kind": "export", "model_id": "0" * 32})
    assert r.status_code == 404 and "not found in project" in r.json()["detail"], r.text
    assert client.get(jobs_url(pid)).json()["count"] == 0

    # given: a model that segmented the study, and a second model that segmented nothing
    annotate(client, pid, sid)
    model_id = trained_model(pid, sid, [sid])
    idle = trained_model(pid, sid, [])
    r = client.post(jobs_url(pid), json={"kind": "export", "model_id": idle})
    assert r.status_code == 422 and f"has a mask by model {idle}" in r.json()["detail"], r.text
    # when: there is something to export
    r = client.post(jobs_url(pid), json={"kind": "export", "format": "dicom-seg", "model_id": model_id})
    # then: queued with its checked parameters
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["state"], job["model_id"]) == ("export", "queued", model_id)
    with session_scope() as s:
        assert s.get(Job, job["id"]).params == {"format": "dicom-seg", "model_id": model_id}  # type: ignore[union-attr]
    r = client.post(jobs_url(pid), json={"kind": "export"})
    assert r.status_code == 202 and r.json()["model_id"] is None
    with session_scope() as s:
        assert s.get(Job, r.json()["id"]).params == {"format": "nifti"}  # type: ignore[union-attr]


def test_the_download_says_what_to_do_until_the_zip_is_ready(client: TestClient, project: dict, tmp_path: Path) -> None:
    pid = project["id"]
    sid = upload(client, pid, seed=1)["id"]
    annotate(client, pid, sid)
    trained_model(pid, sid, [sid])
    job = client.post(jobs_url(pid), json={"kind": "export"}).json()
    # queued: not ready, follow the job
    r = client.get(f"/api/v1/jobs/{job['id']}/download")
    assert r.status_code == 404
    assert r.json()["detail"] == (f"export job {job['id']} is queued (0 %): the zip is not ready yet; follow "
                                  f"GET /api/v1/jobs/{job['id']} and download when its state is succeeded")
    # another kind of job has no download
    train = client.post(jobs_url(pid), json={"kind": "train", "preset": "tiny"}).json()
    r = client.get(f"/api/v1/jobs/{train['id']}/download")
    assert r.status_code == 404 and "is a train job: only export jobs have a download" in r.json()["detail"]
    # cancelled: it made no zip; start another
    client.post(f"/api/v1/jobs/{job['id']}/cancel")
    r = client.get(f"/api/v1/jobs/{job['id']}/download")
    assert r.status_code == 404 and "cancelled (cancelled by the user) and made no zip" in r.json()["detail"]
    assert '{"kind": "export", "format": "nifti"}' in r.json()["detail"]
    assert client.get(f"/api/v1/jobs/{'0' * 32}/download").status_code == 404

    # when: an export succeeds
    again = client.post(jobs_url(pid), json={"kind": "export"}).json()
    stored = finish_export_job(again["id"], tmp_path)
    r = client.get(f"/api/v1/jobs/{again['id']}/download")
    # then: the stored zip, byte for byte, named like the direct download; audited like it
    assert r.status_code == 200, r.text
    assert r.content == stored and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="p_masks.zip"'
    assert int(r.headers["content-length"]) == len(stored)
    direct = client.get(f"/api/v1/projects/{pid}/masks.zip")
    with zipfile.ZipFile(tmp_path / f"{again['id']}.zip") as a, zipfile.ZipFile(io.BytesIO(direct.content)) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        assert all(a.read(n) == b.read(n) for n in a.namelist())
    events = client.get("/api/v1/audit", params={"action": "masks.export", "project_id": pid}).json()["data"]
    # (refused ones too, newest first)
    assert [(e["path"], e["status_code"]) for e in events] == [
        (f"/api/v1/projects/{pid}/masks.zip", 200), (f"/api/v1/jobs/{again['id']}/download", 200),
        (f"/api/v1/jobs/{job['id']}/download", 404), (f"/api/v1/jobs/{train['id']}/download", 404),
        (f"/api/v1/jobs/{job['id']}/download", 404)]


def test_a_study_deletion_removes_the_projects_zips_and_a_project_deletion_its_folder(
    client: TestClient, project: dict, pg_env: dict, tmp_path: Path,
) -> None:
    pid = project["id"]
    a, b = upload(client, pid, seed=1)["id"], upload(client, pid, seed=2)["id"]
    annotate(client, pid, a)
    trained_model(pid, a, [a, b])
    first = client.post(jobs_url(pid), json={"kind": "export"}).json()
    finish_export_job(first["id"], tmp_path)
    key = cohort.export_key(pid, first["id"])
    assert key in objects(pg_env)
    # while an export job runs, the studies it reads cannot be deleted
    running = client.post(jobs_url(pid), json={"kind": "export"}).json()
    r = client.delete(f"/api/v1/projects/{pid}/studies/{b}")
    assert r.status_code == 409 and f"export job {running['id']}" in r.json()["detail"]
    client.post(f"/api/v1/jobs/{running['id']}/cancel")
    # when: a study is deleted (a wrong patient)
    assert client.delete(f"/api/v1/projects/{pid}/studies/{b}").status_code == 204
    # then: the zip holding its mask is gone, and the download says why
    assert key not in objects(pg_env)
    r = client.get(f"/api/v1/jobs/{first['id']}/download")
    assert r.status_code == 410, r.text
    assert f"study {b} was deleted" in r.json()["detail"] and "prepare a new one" in r.json()["detail"]
    # a new export, then the project deleted: nothing of it is left in the store
    second = client.post(jobs_url(pid), json={"kind": "export"}).json()
    finish_export_job(second["id"], tmp_path)
    assert cohort.export_key(pid, second["id"]) in objects(pg_env)
    assert client.delete(f"/api/v1/projects/{pid}").status_code == 204
    assert not [k for k in objects(pg_env) if k.startswith(f"projects/{pid}/")]


def test_storage_check_keeps_live_zips_and_finds_dead_ones(client: TestClient, project: dict, tmp_path: Path) -> None:
    pid = project["id"]
    sid = upload(client, pid, seed=1)["id"]
    annotate(client, pid, sid)
    trained_model(pid, sid, [sid])
    live, expired = (client.post(jobs_url(pid), json={"kind": "export"}).json()["id"] for _ in range(2))
    for job_id in (live, expired):
        finish_export_job(job_id, tmp_path)
    running = client.post(jobs_url(pid), json={"kind": "export"}).json()["id"]
    with session_scope() as s:
        job = s.get(Job, expired)
        assert job is not None
        job.metrics = {**job.metrics, "expires_at": (utcnow() - timedelta(minutes=1)).isoformat()}
    store = get_store()
    store.put_bytes(cohort.export_key(pid, running), b"being written")
    store.put_bytes(cohort.export_key(pid, "0" * 32), b"no such job")
    # when: the store is checked (every object old enough to judge)
    with session_scope() as s:
        report = find_orphans(s, store, min_age=timedelta(0))
    found = {o.key: o.reason for o in report.orphans if "/exports/" in o.key}
    assert found == {cohort.export_key(pid, expired): "its export expired",
                     cohort.export_key(pid, "0" * 32): "its export job does not exist"}
    # the expired one is a 410 already, before the reaper deleted it
    assert client.get(f"/api/v1/jobs/{expired}/download").status_code == 410
    assert client.get(f"/api/v1/jobs/{live}/download").status_code == 200
