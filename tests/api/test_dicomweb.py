"""DICOMweb over the REST API against a real Orthanc PACS (QIDO-RS, WADO-RS, STOW-RS).

The PACS is seeded through Orthanc's own REST API (POST /instances), not through the code under
test; what the service stores back is read through Orthanc's own API too.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import highdicom as hd
import httpx
import nibabel as nib
import numpy as np
import pydicom
import pytest
from fastapi.testclient import TestClient

from tests import factories as f
from tests.api.conftest import KEY, LABELS
from tests.conftest import free_port

AUTH = ("elsnet", "test-password")


@pytest.fixture
def pacs(orthanc: str) -> Iterator[str]:
    """The session's Orthanc, emptied before each test."""
    root = orthanc.rsplit("/dicom-web", 1)[0]
    for pid in httpx.get(f"{root}/patients", auth=AUTH).json():
        httpx.delete(f"{root}/patients/{pid}", auth=AUTH).raise_for_status()
    yield root


@pytest.fixture
def api(pg_env: dict[str, str], pacs: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    servers = {
        "pacs": {"url": f"{pacs}/dicom-web", "username": AUTH[0], "password": AUTH[1]},
        "wrong-password": {"url": f"{pacs}/dicom-web", "username": AUTH[0], "password": "nope"},
        "down": {"url": f"http://127.0.0.1:{free_port()}/dicom-web", "timeout_s": 3},
    }
    monkeypatch.setenv("ELSNET_DICOMWEB_SERVERS", json.dumps(servers))
    monkeypatch.setenv("ELSNET_BOOTSTRAP_KEY", KEY)
    from store.db import reset_caches

    reset_caches()
    from api.main import create_app

    with TestClient(create_app(), headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def seed(pacs: str, parts: list[bytes]) -> None:
    for p in parts:
        httpx.post(f"{pacs}/instances", content=p, auth=AUTH).raise_for_status()


def restudy(parts: list[bytes], study_uid: str, patient: str = "P1") -> list[bytes]:
    """The same series moved into another study (a PACS study often holds several series)."""
    return f.retag(parts, StudyInstanceUID=study_uid, PatientID=patient)


def uids(parts: list[bytes]) -> tuple[str, str]:
    ds = pydicom.dcmread(io.BytesIO(parts[0]), stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


@pytest.fixture
def project(api: TestClient) -> str:
    r = api.post("/api/v1/projects", json={"name": "pacs", "labels": LABELS})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_find_and_import_a_series_from_the_pacs(api: TestClient, pacs: str, project: str) -> None:
    # given: two patients' studies on the PACS
    series = f.dicom_series(n=5, rows=14, cols=10)
    seed(pacs, series)
    seed(pacs, restudy(f.dicom_series(n=3), pydicom.uid.generate_uid(), patient="P2"))
    study_uid, series_uid = uids(series)

    assert api.get("/api/v1/dicomweb/servers").json() == {"data": ["down", "pacs", "wrong-password"], "count": 3}
    # when: searching by patient
    found = api.get("/api/v1/dicomweb/pacs/studies", params={"PatientID": "P1"}).json()
    assert found["count"] == 1 and found["data"][0]["StudyInstanceUID"] == study_uid
    assert found["data"][0]["PatientName"] == "Test^Phantom"
    assert api.get("/api/v1/dicomweb/pacs/studies").json()["count"] == 2
    listed = api.get(f"/api/v1/dicomweb/pacs/studies/{study_uid}/series").json()
    assert [(s["SeriesInstanceUID"], s["NumberOfSeriesRelatedInstances"]) for s in listed["data"]] == [(series_uid, 5)]

    # when: importing the study (one image series: no need to name it)
    r = api.post(f"/api/v1/projects/{project}/studies/dicomweb", json={"server": "pacs", "study_instance_uid": study_uid})
    # then: a study with the series' geometry, and its pixels exactly
    assert r.status_code == 201, r.text
    st = r.json()
    assert st["source_format"] == "dicom" and st["shape"] == [10, 14, 5] and st["modality"] == "MR"
    assert st["spacing"] == pytest.approx([1.0, 1.0, 3.0])
    assert st["name"] == "P1 MR"  # patient id and modality (the series has no description)
    vol = api.get(f"/api/v1/projects/{project}/studies/{st['id']}/volume")
    data = np.asanyarray(nib.Nifti1Image.from_bytes(__import__("gzip").decompress(vol.content)).dataobj)
    expected = sorted(int(pydicom.dcmread(io.BytesIO(p)).pixel_array.sum()) for p in series)
    assert sorted(int(data[:, :, z].sum()) for z in range(5)) == expected

    # the same series again is the same study (200), not a copy
    again = api.post(f"/api/v1/projects/{project}/studies/dicomweb",
                     json={"server": "pacs", "study_instance_uid": study_uid, "series_instance_uid": series_uid})
    assert again.status_code == 200 and again.json()["id"] == st["id"]
    # and so is an upload of the original files as a zip (other bytes than the PACS sends)
    zipped = api.post(f"/api/v1/projects/{project}/studies",
                      files={"file": ("s.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(series)}))})
    assert zipped.status_code == 200 and zipped.json()["id"] == st["id"]
    assert api.get(f"/api/v1/projects/{project}/studies").json()["count"] == 1


def test_a_study_with_several_series_asks_which(api: TestClient, pacs: str, project: str) -> None:
    first = f.dicom_series(n=4)
    study_uid, first_uid = uids(first)
    second = restudy(f.dicom_series(n=3, rows=8, cols=8), study_uid)
    seed(pacs, first + second)
    _, second_uid = uids(second)

    r = api.post(f"/api/v1/projects/{project}/studies/dicomweb", json={"server": "pacs", "study_instance_uid": study_uid})
    assert r.status_code == 422
    assert "2 image series" in r.json()["detail"] and first_uid in r.json()["detail"] and second_uid in r.json()["detail"]
    assert api.get(f"/api/v1/projects/{project}/studies").json()["count"] == 0

    r = api.post(f"/api/v1/projects/{project}/studies/dicomweb",
                 json={"server": "pacs", "study_instance_uid": study_uid, "series_instance_uid": second_uid})
    assert r.status_code == 201 and r.json()["shape"] == [8, 8, 3]


def test_clear_errors_and_nothing_stored(api: TestClient, pacs: str, project: str) -> None:
    series = f.dicom_series(n=2)
    seed(pacs, series)
    study_uid, _ = uids(series)
    url = f"/api/v1/projects/{project}/studies/dicomweb"

    r = api.post(url, json={"server": "elsewhere", "study_instance_uid": study_uid})
    assert r.status_code == 422 and "configured servers: down, pacs, wrong-password" in r.json()["detail"]
    r = api.post(url, json={"server": "pacs", "study_instance_uid": "1.2.3.999"})
    assert r.status_code == 404 and "1.2.3.999 not found" in r.json()["detail"]
    r = api.post(url, json={"server": "pacs", "study_instance_uid": "not-a-uid"})
    assert r.status_code == 422 and "not a DICOM UID" in r.json()["detail"]
    r = api.post(url, json={"server": "wrong-password", "study_instance_uid": study_uid})
    assert r.status_code == 502 and "HTTP 401" in r.json()["detail"] and "credentials" in r.json()["detail"]
    r = api.post(url, json={"server": "down", "study_instance_uid": study_uid})
    assert r.status_code == 502 and "'down'" in r.json()["detail"]
    assert api.get("/api/v1/dicomweb/down/studies").status_code == 502
    assert api.get("/api/v1/projects/" + project + "/studies").json()["count"] == 0
    # without a key nothing about the PACS is shown
    assert api.get("/api/v1/dicomweb/servers", headers={"Authorization": ""}).status_code == 401
    assert api.get("/api/v1/dicomweb/pacs/studies", headers={"Authorization": "Bearer wrong"}).status_code == 401


def _give_mask(study_id: str, tmp_path: Path) -> np.ndarray:
    """A mask for the study as a model would leave it (storage object + row)."""
    from store.db import session_scope
    from store.models import Mask, Model, Study
    from store.storage import get_store

    with session_scope() as s:
        study = s.get(Study, study_id)
        assert study is not None
        labels = np.zeros(tuple(study.shape), np.uint8)
        labels[2:6, 3:7, 1] = 1
        labels[5:9, 1:4, 2] = 2
        path = tmp_path / "mask.nii.gz"
        nib.save(nib.Nifti1Image(labels, np.asarray(study.affine)), str(path))
        get_store().put_file(f"masks/test/{study_id}.nii.gz", path)
        model = Model(project_id=study.project_id, job_id="j", artifact_key="x", config={}, metrics={},
                      exemplar_study_ids=[])
        s.add(model)
        s.flush()
        s.add(Mask(study_id=study.id, model_id=model.id, job_id="j", key=f"masks/test/{study_id}.nii.gz"))
    return labels


def _seg_on_pacs(pacs: str, study_uid: str) -> pydicom.Dataset:
    series = httpx.get(f"{pacs}/dicom-web/studies/{study_uid}/series", auth=AUTH).json()
    seg = [s for s in series if s["00080060"]["Value"][0] == "SEG"]
    assert len(seg) == 1, series
    seg_uid = seg[0]["0020000E"]["Value"][0]
    found = httpx.post(f"{pacs}/tools/find", auth=AUTH,
                       json={"Level": "Instance", "Query": {"SeriesInstanceUID": seg_uid}}).json()
    assert len(found) == 1
    raw = httpx.get(f"{pacs}/instances/{found[0]}/file", auth=AUTH).content
    return pydicom.dcmread(io.BytesIO(raw))


def test_masks_go_back_to_the_pacs_as_dicom_seg(api: TestClient, pacs: str, project: str, tmp_path: Path) -> None:
    series = f.dicom_series(n=4, rows=10, cols=12)
    seed(pacs, series)
    study_uid, series_uid = uids(series)
    st = api.post(f"/api/v1/projects/{project}/studies/dicomweb",
                  json={"server": "pacs", "study_instance_uid": study_uid}).json()
    url = f"/api/v1/projects/{project}/studies/{st['id']}/mask/dicomweb"

    r = api.post(url, json={"server": "pacs"})
    assert r.status_code == 404 and "no mask yet" in r.json()["detail"]

    labels = _give_mask(st["id"], tmp_path)
    r = api.post(url, json={"server": "pacs"})
    assert r.status_code == 200, r.text
    out = r.json()
    # the SEG joins the original study and refers to its series
    assert out["study_instance_uid"] == study_uid and out["derived_instances_sent"] == 0
    ds = _seg_on_pacs(pacs, study_uid)
    assert ds.SOPInstanceUID == out["sop_instance_uid"]
    seg = hd.seg.Segmentation.from_dataset(ds)
    assert [d.SegmentLabel for d in seg.SegmentSequence] == ["liver", "kidney_right"]
    refs = {r.SeriesInstanceUID for r in ds.ReferencedSeriesSequence}
    assert refs == {series_uid}
    arr = seg.get_volume(combine_segments=True, relabel=False).array
    assert {int(v): int((arr == v).sum()) for v in np.unique(arr) if v} == {1: int((labels == 1).sum()),
                                                                           2: int((labels == 2).sum())}
    r = api.post(url, json={"server": "down"})
    assert r.status_code == 502


def test_a_nifti_study_goes_to_the_pacs_with_its_derived_series(api: TestClient, pacs: str, project: str,
                                                                tmp_path: Path) -> None:
    r = api.post(f"/api/v1/projects/{project}/studies", files={"file": ("v.nii.gz", f.nifti_bytes(f.volume((12, 10, 4))))})
    st = r.json()
    _give_mask(st["id"], tmp_path)
    url = f"/api/v1/projects/{project}/studies/{st['id']}/mask/dicomweb"
    out = api.post(url, json={"server": "pacs"}).json()
    assert out["derived_instances_sent"] == 4
    series = httpx.get(f"{pacs}/dicom-web/studies/{out['study_instance_uid']}/series", auth=AUTH).json()
    assert sorted(s["00080060"]["Value"][0] for s in series) == ["MR", "SEG"]
    # a second export lands in the same study: the derived series is not duplicated
    again = api.post(url, json={"server": "pacs"}).json()
    assert again["study_instance_uid"] == out["study_instance_uid"]
    series = httpx.get(f"{pacs}/dicom-web/studies/{out['study_instance_uid']}/series", auth=AUTH).json()
    mr = [s for s in series if s["00080060"]["Value"][0] == "MR"]
    assert len(mr) == 1 and mr[0]["00201209"]["Value"][0] == 4


def stow_body(parts: list[bytes], boundary: str = "elsnet-test-boundary") -> tuple[bytes, str]:
    body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts)
    return body + b"--" + boundary.encode() + b"--\r\n", f'multipart/related; type="application/dicom"; boundary={boundary}'


def test_a_pacs_can_push_studies_by_stow(api: TestClient, project: str) -> None:
    # given: one MR series and, in the same push, a series that is no image volume
    mr = f.dicom_series(n=4, rows=10, cols=12)
    other = f.retag(f.dicom_series(n=2), Modality="SR")
    body, ctype = stow_body(mr + other)
    url = f"/api/v1/projects/{project}/dicomweb/studies"
    # when
    r = api.post(url, content=body, headers={"Content-Type": ctype})
    # then: the MR series is a study; the SR instances are refused with the reason
    assert r.status_code == 202, r.text
    assert r.headers["content-type"].startswith("application/dicom+json")
    answer = r.json()
    stored = {it["00081155"]["Value"][0] for it in answer["00081199"]["Value"]}
    assert stored == {str(pydicom.dcmread(io.BytesIO(p)).SOPInstanceUID) for p in mr}
    assert len(answer["00081198"]["Value"]) == 2 and "SR, not an image series" in answer["00000902"]["Value"][0]
    studies = api.get(f"/api/v1/projects/{project}/studies").json()["data"]
    assert [s["shape"] for s in studies] == [[12, 10, 4]] and studies[0]["name"] == "P1 MR"
    assert r.headers["X-Elsnet-Study-Ids"] == studies[0]["id"]
    # the same push again stores nothing new (same study) and answers 200 for the image series
    again = api.post(url, content=stow_body(mr)[0], headers={"Content-Type": stow_body(mr)[1]})
    assert again.status_code == 200 and again.headers["X-Elsnet-Study-Ids"] == studies[0]["id"]
    assert api.get(f"/api/v1/projects/{project}/studies").json()["count"] == 1
    # nothing usable: 409; not multipart: 422 saying what to send; no key: 401
    assert api.post(url, content=stow_body(other)[0], headers={"Content-Type": stow_body(other)[1]}).status_code == 409
    r = api.post(url, content=mr[0], headers={"Content-Type": "application/dicom"})
    assert r.status_code == 422 and "multipart/related" in r.json()["detail"]
    assert api.post(url, content=body, headers={"Content-Type": ctype, "Authorization": ""}).status_code == 401
