"""Reference masks through the real API on PostgreSQL: an expert's complete label map of a study,
stored beside it (never for training) so models can be measured on it. Validated like an
annotation, but complete; downloads and changes are audited; evaluations are asked for as jobs."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
from fastapi.testclient import TestClient

from store.db import get_sessionmaker
from store.models import Model
from tests import factories as f


@pytest.fixture
def study(client: TestClient, project: dict) -> dict:
    r = client.post(f"/api/v1/projects/{project['id']}/studies", files={"file": ("a.nii.gz", f.nifti_bytes(f.volume()))})
    assert r.status_code == 201, r.text
    return r.json()


def url(project: dict, study: dict) -> str:
    return f"/api/v1/projects/{project['id']}/studies/{study['id']}/reference"


def put_reference(client: TestClient, project: dict, study: dict, data: np.ndarray, affine=f.AFFINE, name="ref.nii.gz"):  # type: ignore[no-untyped-def]
    return client.put(url(project, study), files={"file": (name, f.nifti_bytes(data, affine))})


def downloaded(client: TestClient, project: dict, study: dict) -> np.ndarray:
    r = client.get(url(project, study))
    assert r.status_code == 200, r.text
    return np.asanyarray(nib.Nifti1Image.from_bytes(gzip.decompress(r.content)).dataobj)


def complete(value: int = 1) -> np.ndarray:
    """A complete reference: background everywhere, one organ block on slice 2."""
    return f.label_map(value=value)


def test_reference_roundtrip_is_listed_audited_and_deleted(client: TestClient, project: dict, study: dict) -> None:
    # given: a study without a reference
    assert study["has_reference"] is False
    # when: an expert's complete label map is stored
    ref = complete()
    r = put_reference(client, project, study, ref)
    # then: the study says so, stays a non-exemplar (a reference never trains), and the file comes back voxel for voxel
    assert r.status_code == 200, r.text
    assert (r.json()["has_reference"], r.json()["is_exemplar"]) == (True, False)
    listed = client.get(f"/api/v1/projects/{project['id']}/studies").json()["data"]
    assert [s["has_reference"] for s in listed] == [True]
    np.testing.assert_array_equal(downloaded(client, project, study), ref)
    # when: it is deleted
    assert client.delete(url(project, study)).status_code == 204
    # then: gone (download and a second delete answer 404 saying what to do)
    assert client.get(f"/api/v1/projects/{project['id']}/studies/{study['id']}").json()["has_reference"] is False
    gone = client.get(url(project, study))
    assert gone.status_code == 404 and "has no reference mask" in gone.json()["detail"]
    assert client.delete(url(project, study)).status_code == 404
    # and the audit trail names each step
    events = client.get("/api/v1/audit", params={"project_id": project["id"]}).json()["data"]
    actions = [(e["action"], e["status_code"]) for e in events if "/reference" in e["path"]]
    assert actions == [("reference.delete", 404), ("reference.download", 404), ("reference.delete", 204),
                       ("reference.download", 200), ("reference.save", 200)]


@pytest.mark.parametrize(
    ("make", "affine", "needle"),
    [
        # "not annotated" voxels: a reference must label every voxel
        (lambda: f.label_map(unannotated=True), f.AFFINE, "at 255 (not annotated); a reference mask must label every voxel"),
        (lambda: f.label_map(shape=(24, 20, 5)), f.AFFINE, "reference mask shape (24, 20, 5) differs from the study's (24, 20, 6)"),
        (complete, np.diag([1.5, 1.5, 4.0, 1.0]), "reference mask geometry (affine) differs"),
        (lambda: f.label_map(value=7), f.AFFINE, "label values [7]"),
        (lambda: np.zeros((24, 20, 6), np.uint8), f.AFFINE, "no organ label"),
    ],
    ids=["255", "wrong-shape", "wrong-affine", "unknown-label", "no-organ"],
)
def test_bad_references_are_422_and_keep_the_old_one(client: TestClient, project: dict, study: dict, make, affine, needle: str) -> None:  # type: ignore[no-untyped-def]
    good = complete(value=2)
    assert put_reference(client, project, study, good).status_code == 200
    r = put_reference(client, project, study, make(), affine=affine)
    assert r.status_code == 422 and needle in r.json()["detail"], r.text
    np.testing.assert_array_equal(downloaded(client, project, study), good)


def test_a_reference_must_be_nifti(client: TestClient, project: dict, study: dict) -> None:
    r = client.put(url(project, study), files={"file": ("ref.png", b"\x89PNG....")})
    assert r.status_code == 422 and "must be a NIfTI file" in r.json()["detail"]


def test_an_exemplar_may_carry_a_reference(client: TestClient, project: dict, study: dict) -> None:
    # stored (the evaluation, not the upload, leaves it out for models trained on it)
    ann = client.put(f"/api/v1/projects/{project['id']}/studies/{study['id']}/annotation",
                     files={"file": ("lab.nii.gz", f.nifti_bytes(f.label_map(unannotated=True)))})
    assert ann.status_code == 200
    r = put_reference(client, project, study, complete())
    assert r.status_code == 200 and (r.json()["is_exemplar"], r.json()["has_reference"]) == (True, True)


def test_a_reader_key_downloads_but_cannot_change_a_reference(client: TestClient, project: dict, study: dict) -> None:
    assert put_reference(client, project, study, complete()).status_code == 200
    reader = client.post("/api/v1/keys", json={"name": "viewer", "role": "reader"}).json()
    as_reader = {"Authorization": f"Bearer {reader['key']}"}
    assert client.get(url(project, study), headers=as_reader).status_code == 200
    r = client.put(url(project, study), headers=as_reader, files={"file": ("r.nii.gz", f.nifti_bytes(complete(2)))})
    assert r.status_code == 403
    assert client.delete(url(project, study), headers=as_reader).status_code == 403
    np.testing.assert_array_equal(downloaded(client, project, study), complete())


def _model(project_id: str, exemplars: list[str]) -> str:
    """A registered model version (as a training leaves it; its artifact is not needed here)."""
    with get_sessionmaker()() as s, s.begin():
        model = Model(project_id=project_id, job_id="train-job", artifact_key="models/x/model.tar.gz",
                      config={}, metrics={}, exemplar_study_ids=exemplars)
        s.add(model)
    return model.id


def test_evaluate_jobs_need_a_model_and_references_and_default_to_the_active_model(
    client: TestClient, project: dict, study: dict,
) -> None:
    jobs = f"/api/v1/projects/{project['id']}/jobs"
    no_model = client.post(jobs, json={"kind": "evaluate"})
    assert no_model.status_code == 422 and "no model yet" in no_model.json()["detail"]
    model_id = _model(project["id"], [])
    # a model never evaluated: 404 that says what to do, and no summary
    r = client.get(f"/api/v1/models/{model_id}/evaluation")
    assert r.status_code == 404
    assert "upload reference masks" in r.json()["detail"] and '{"kind": "evaluate"' in r.json()["detail"]
    assert client.get(f"/api/v1/models/{model_id}").json()["evaluation_summary"] is None
    no_refs = client.post(jobs, json={"kind": "evaluate"})
    assert no_refs.status_code == 422 and "no study of the project has a reference mask" in no_refs.json()["detail"]
    assert put_reference(client, project, study, complete()).status_code == 200
    # when
    job = client.post(jobs, json={"kind": "evaluate"})
    # then: queued for the active (here the only) model
    assert job.status_code == 202, job.text
    assert (job.json()["kind"], job.json()["state"], job.json()["model_id"]) == ("evaluate", "queued", model_id)
    other = client.post(jobs, json={"kind": "evaluate", "model_id": "0" * 32})
    assert other.status_code == 404
