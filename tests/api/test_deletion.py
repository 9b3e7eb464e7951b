"""Deleting studies and projects: rows and object-store files go, nothing else does, and never
while a queued or running job could read them."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store import services
from store.db import session_scope
from store.models import Job, Mask, Model, Study
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
