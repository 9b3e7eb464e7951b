"""Deleting studies and projects: rows and object-store files go, nothing else does, and never
while a queued or running job could read them. A replaced or removed annotation or reference
version goes once the row points elsewhere, unless a job could still read it: then, and after a
storage error, `elsnet storage-check` finds it."""

from __future__ import annotations

import gzip
import logging
from datetime import timedelta
from pathlib import Path

import nibabel as nib
import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store import services
from store.db import session_scope
from store.housekeeping import find_orphans, remove_orphans
from store.models import Job, Mask, Model, Study, utcnow
from store.storage import get_store
from tests import factories as f


def objects(env: dict[str, str]) -> list[str]:
    """Every file in the object store folder, as keys."""
    root = Path(env["ELSNET_HOME"]) / "objects"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def upload(client: TestClient, pid: str, seed: int) -> dict:
    r = client.post(f"/api/v1/projects/{pid}/studies", files={"file": (f"s{seed}.nii.gz", f.nifti_bytes(f.volume(seed=seed)))})
    assert r.status_code == 201, r.text
    return dict(r.json())


def annotate(client: TestClient, pid: str, sid: str) -> None:
    r = client.put(f"/api/v1/projects/{pid}/studies/{sid}/annotation", files={"file": ("l.nii.gz", f.nifti_bytes(f.label_map()))})
    assert r.status_code == 200, r.text


def trained_model(pid: str, exemplar: str, segmented: list[str]) -> str:
    """What a finished training leaves behind, with the keys worker/pipeline.py uses: the model
    row and archive, the exemplar's slice completion, one mask row and file per study."""
    store = get_store()
    mask = f.nifti_bytes(f.label_map())
    with session_scope() as s:
        model = Model(
            project_id=pid, job_id="j", artifact_key="", config={}, metrics={"completed_exemplars": [exemplar]},
            exemplar_study_ids=[exemplar],
        )
        s.add(model)
        s.flush()
        model.artifact_key = f"models/{model.id}/model.tar.gz"
        store.put_bytes(model.artifact_key, b"weights")
        store.put_bytes(services.completion_key(model.id, exemplar), mask)
        for sid in segmented:
            key = f"masks/{sid}/{model.id}.nii.gz"
            store.put_bytes(key, mask)
            s.add(Mask(study_id=sid, model_id=model.id, job_id="j", key=key, confidence=0.9))
        return model.id


def volume_of(client: TestClient, pid: str, sid: str) -> np.ndarray:
    r = client.get(f"/api/v1/projects/{pid}/studies/{sid}/volume")
    assert r.status_code == 200, r.text
    return np.asanyarray(nib.Nifti1Image.from_bytes(gzip.decompress(r.content)).dataobj)


def test_delete_study_removes_it_and_its_files_and_keeps_the_rest(client: TestClient, project: dict, pg_env: dict) -> None:
    # given: two studies, the first annotated; a model trained on it segmented both
    pid = project["id"]
    gone, kept = upload(client, pid, 1), upload(client, pid, 2)
    annotate(client, pid, gone["id"])
    model_id = trained_model(pid, gone["id"], [gone["id"], kept["id"]])
    before = objects(pg_env)
    assert any(gone["id"] in k for k in before) and any(kept["id"] in k for k in before)
    # when
    r = client.delete(f"/api/v1/projects/{pid}/studies/{gone['id']}")
    # then: the study, its masks and every file naming it are gone
    assert r.status_code == 204
    r = client.get(f"/api/v1/projects/{pid}/studies/{gone['id']}")
    assert r.status_code == 404 and gone["id"] in r.json()["detail"]
    assert [s["id"] for s in client.get(f"/api/v1/projects/{pid}/studies").json()["data"]] == [kept["id"]]
    after = objects(pg_env)
    assert not [k for k in after if gone["id"] in k]
    assert after == [k for k in before if gone["id"] not in k]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Mask).where(Mask.study_id == gone["id"])) == 0
    # the other study is intact: its volume byte for byte, its mask
    np.testing.assert_array_equal(volume_of(client, pid, kept["id"]), f.volume(seed=2))
    r = client.get(f"/api/v1/projects/{pid}/studies/{kept['id']}/mask")
    assert r.status_code == 200 and r.headers["x-model-id"] == model_id
    # the model stays (an immutable version) and still names the deleted exemplar
    m = client.get(f"/api/v1/models/{model_id}")
    assert m.status_code == 200 and m.json()["exemplar_study_ids"] == [gone["id"]]
    assert f"models/{model_id}/model.tar.gz" in after
    # a second delete
    r = client.delete(f"/api/v1/projects/{pid}/studies/{gone['id']}")
    assert r.status_code == 404 and gone["id"] in r.json()["detail"]


def test_delete_is_refused_while_a_job_could_read_the_study(client: TestClient, project: dict, pg_env: dict) -> None:
    # given: a queued infer job on study a only, and a queued training (reads every study)
    pid = project["id"]
    a, b = upload(client, pid, 3), upload(client, pid, 4)
    annotate(client, pid, a["id"])
    model_id = trained_model(pid, a["id"], [])
    infer = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "infer", "model_id": model_id, "study_ids": [a["id"]]})
    train = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "train", "preset": "tiny"})
    assert infer.status_code == train.status_code == 202
    before = objects(pg_env)
    # when / then: each delete names a job to cancel, and deletes nothing
    for path in (f"/api/v1/projects/{pid}/studies/{a['id']}", f"/api/v1/projects/{pid}/studies/{b['id']}", f"/api/v1/projects/{pid}"):
        r = client.delete(path)
        assert r.status_code == 409, r.text
        assert "/cancel" in r.json()["detail"] and "wait" in r.json()["detail"]
    assert train.json()["id"] in client.delete(f"/api/v1/projects/{pid}/studies/{b['id']}").json()["detail"]
    assert objects(pg_env) == before
    assert client.get(f"/api/v1/projects/{pid}/studies").json()["count"] == 2
    np.testing.assert_array_equal(volume_of(client, pid, a["id"]), f.volume(seed=3))
    # once the training is cancelled, only the infer job's study is still held
    assert client.post(f"/api/v1/jobs/{train.json()['id']}/cancel").status_code == 202
    r = client.delete(f"/api/v1/projects/{pid}/studies/{a['id']}")
    assert r.status_code == 409 and infer.json()["id"] in r.json()["detail"]
    assert client.delete(f"/api/v1/projects/{pid}/studies/{b['id']}").status_code == 204
    assert client.post(f"/api/v1/jobs/{infer.json()['id']}/cancel").status_code == 202
    assert client.delete(f"/api/v1/projects/{pid}/studies/{a['id']}").status_code == 204
    assert client.get(f"/api/v1/projects/{pid}/studies").json()["count"] == 0


def test_delete_project_removes_its_rows_and_files_only(client: TestClient, project: dict, pg_env: dict) -> None:
    # given: a project with an exemplar, a model, masks and an ended job; and another project
    pid = project["id"]
    study = upload(client, pid, 5)
    annotate(client, pid, study["id"])
    model_id = trained_model(pid, study["id"], [study["id"]])
    job = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "train", "preset": "tiny"}).json()
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 202
    other = client.post("/api/v1/projects", json={"name": "other", "labels": {"1": "liver"}}).json()
    other_study = upload(client, other["id"], 6)
    other_model = trained_model(other["id"], other_study["id"], [other_study["id"]])
    before = objects(pg_env)
    ids = (pid, study["id"], model_id)
    assert all(any(i in k for k in before) for i in ids)
    # when
    r = client.delete(f"/api/v1/projects/{pid}")
    # then: no row and no file of it is left
    assert r.status_code == 204
    assert client.get(f"/api/v1/projects/{pid}").status_code == 404
    assert client.get(f"/api/v1/models/{model_id}").status_code == 404
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert pid not in [p["id"] for p in client.get("/api/v1/projects").json()["data"]]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Study).where(Study.project_id == pid)) == 0
        assert s.scalar(select(func.count()).select_from(Mask).where(Mask.model_id == model_id)) == 0
        assert s.scalar(select(func.count()).select_from(Job).where(Job.project_id == pid)) == 0
    after = objects(pg_env)
    assert not [k for k in after if any(i in k for i in ids)]
    assert after == [k for k in before if not any(i in k for i in ids)]
    # the other project is untouched
    assert any(other_study["id"] in k for k in after) and f"models/{other_model}/model.tar.gz" in after
    np.testing.assert_array_equal(volume_of(client, other["id"], other_study["id"]), f.volume(seed=6))
    assert client.get(f"/api/v1/projects/{other['id']}/studies/{other_study['id']}/mask").status_code == 200
    # a second delete
    r = client.delete(f"/api/v1/projects/{pid}")
    assert r.status_code == 404 and pid in r.json()["detail"]


def versions(env: dict[str, str], pid: str, sid: str, what: str) -> list[str]:
    """The stored versions of a study's ``what`` ("annotation" or "reference")."""
    return [k for k in objects(env) if k.startswith(f"projects/{pid}/studies/{sid}/{what}/")]


def downloaded(client: TestClient, path: str) -> np.ndarray:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return np.asanyarray(nib.Nifti1Image.from_bytes(gzip.decompress(r.content)).dataobj)


def storage_check(pid: str) -> dict[str, str]:
    """`elsnet storage-check`'s orphans of project ``pid`` (everything old enough): key -> reason."""
    with session_scope() as s:
        report = find_orphans(s, get_store(), min_age=timedelta(minutes=30), now=utcnow() + timedelta(hours=1))
    return {o.key: o.reason for o in report.orphans if o.key.startswith(f"projects/{pid}/")}


def test_a_replaced_or_removed_annotation_or_reference_is_deleted(client: TestClient, project: dict, pg_env: dict) -> None:
    # given: an exemplar and a finished training (model archive, the exemplar's completion, its mask)
    pid = project["id"]
    sid = upload(client, pid, 5)["id"]
    study = f"/api/v1/projects/{pid}/studies/{sid}"
    annotate(client, pid, sid)
    [first] = versions(pg_env, pid, sid, "annotation")
    model_id = trained_model(pid, sid, [sid])
    trained = {f"models/{model_id}/model.tar.gz", services.completion_key(model_id, sid), f"masks/{sid}/{model_id}.nii.gz"}
    # when: the annotation is replaced
    corrected = f.label_map(value=2)
    r = client.put(f"{study}/annotation", files={"file": ("l.nii.gz", f.nifti_bytes(corrected))})
    assert r.status_code == 200, r.text
    # then: only the new version is stored, and it is the one served
    [second] = versions(pg_env, pid, sid, "annotation")
    assert second != first
    np.testing.assert_array_equal(downloaded(client, f"{study}/annotation"), corrected)
    # "correct annotation" on the page: the mask becomes the annotation, the replaced one goes
    assert client.post(f"{study}/annotation/from-mask", params={"model": model_id}).status_code == 200
    [third] = versions(pg_env, pid, sid, "annotation")
    assert third not in (first, second)
    np.testing.assert_array_equal(downloaded(client, f"{study}/annotation"), f.label_map())
    # what the model keeps of its training (it names its exemplar studies, not annotation versions) stays
    assert trained <= set(objects(pg_env))
    assert client.get(f"/api/v1/models/{model_id}").json()["exemplar_study_ids"] == [sid]
    assert client.get(f"/api/v1/projects/{pid}/studies/{sid}/completion").status_code == 200
    # references likewise: replaced, then removed
    for value in (1, 2):
        r = client.put(f"{study}/reference", files={"file": ("r.nii.gz", f.nifti_bytes(f.label_map(value=value)))})
        assert r.status_code == 200, r.text
        assert len(versions(pg_env, pid, sid, "reference")) == 1
    np.testing.assert_array_equal(downloaded(client, f"{study}/reference"), f.label_map(value=2))
    assert client.delete(f"{study}/reference").status_code == 204
    assert client.delete(f"{study}/annotation").status_code == 204
    assert versions(pg_env, pid, sid, "reference") == versions(pg_env, pid, sid, "annotation") == []
    assert trained <= set(objects(pg_env)) and storage_check(pid) == {}


def test_a_version_a_job_may_read_is_kept_until_storage_check_removes_it(
    client: TestClient, project: dict, pg_env: dict
) -> None:
    # given: an exemplar and a queued training (once running, it reads the annotation its row names)
    pid = project["id"]
    sid = upload(client, pid, 6)["id"]
    annotate(client, pid, sid)
    [old] = versions(pg_env, pid, sid, "annotation")
    train = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "train", "preset": "tiny"})
    assert train.status_code == 202, train.text
    # when: the annotation is replaced meanwhile
    corrected = f.label_map(value=2)
    r = client.put(f"/api/v1/projects/{pid}/studies/{sid}/annotation", files={"file": ("l.nii.gz", f.nifti_bytes(corrected))})
    assert r.status_code == 200, r.text
    # then: the replaced version stays while the job may read it, and storage-check leaves it too
    [new] = [k for k in versions(pg_env, pid, sid, "annotation") if k != old]
    assert old in objects(pg_env) and storage_check(pid) == {}
    # once the job has ended, storage-check finds it and --delete removes it (nothing else)
    assert client.post(f"/api/v1/jobs/{train.json()['id']}/cancel").status_code == 202
    assert storage_check(pid) == {old: "a replaced or removed annotation version"}
    with session_scope() as s:
        removed = remove_orphans(get_store(), find_orphans(s, get_store(), min_age=timedelta(0), now=utcnow() + timedelta(hours=1)))
    assert removed == 1 and versions(pg_env, pid, sid, "annotation") == [new]
    np.testing.assert_array_equal(downloaded(client, f"/api/v1/projects/{pid}/studies/{sid}/annotation"), corrected)


def test_a_storage_error_keeps_the_new_version_and_leaves_the_old_to_storage_check(
    client: TestClient, project: dict, pg_env: dict, monkeypatch, caplog  # type: ignore[no-untyped-def]
) -> None:
    pid = project["id"]
    sid = upload(client, pid, 7)["id"]
    ref = f"/api/v1/projects/{pid}/studies/{sid}/reference"
    assert client.put(ref, files={"file": ("r.nii.gz", f.nifti_bytes(f.label_map()))}).status_code == 200
    [old] = versions(pg_env, pid, sid, "reference")

    def unavailable(prefix: str) -> None:
        raise OSError("object storage unavailable")

    # when: object storage refuses the deletion after the row points at the new version
    monkeypatch.setattr(get_store(), "delete_prefix", unavailable)
    with caplog.at_level(logging.ERROR, logger="store.services"):
        r = client.put(ref, files={"file": ("r.nii.gz", f.nifti_bytes(f.label_map(value=2)))})
    # then: the replacement stands, the failure is logged, and storage-check names what is left
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(downloaded(client, ref), f.label_map(value=2))
    assert f"could not delete its replaced version {old}" in caplog.text
    assert storage_check(pid) == {old: "a replaced or removed reference version"}
