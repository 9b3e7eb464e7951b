"""The hospital loop over DICOMweb, end to end with real parts: a real Orthanc PACS, PostgreSQL,
a Redis broker and a real Celery worker process.

Studies are found on the PACS and imported, one is annotated, a model is trained, its mask goes
back to the PACS as DICOM SEG, and a study sent later is segmented by itself (auto-segment).
"""

from __future__ import annotations

import gzip
import io
import json
import time
from pathlib import Path

import highdicom as hd
import httpx
import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from tests import factories as f
from tests.conftest import small_chaos_case
from tests.e2e.helpers import Api
from tests.webhook_receiver import Receiver

LABELS = {"1": "liver", "2": "kidney_right", "3": "kidney_left", "4": "spleen"}
AUTH = ("elsnet", "test-password")


def _service_with_pacs(key: str, orthanc: str, pg_env: dict, redis_url: str, start_worker,  # type: ignore[no-untyped-def]
                       monkeypatch) -> None:
    """This process's API settings and a real worker on PostgreSQL + Redis, both knowing the
    test Orthanc as DICOMweb server "pacs"; ``key`` is the bootstrap admin key."""
    from store.db import reset_caches

    servers = json.dumps({"pacs": {"url": orthanc, "username": AUTH[0], "password": AUTH[1]}})
    monkeypatch.setenv("BROKER_URL", redis_url)
    monkeypatch.setenv("ELSNET_BOOTSTRAP_KEY", key)
    monkeypatch.setenv("ELSNET_DICOMWEB_SERVERS", servers)
    reset_caches()
    start_worker({**pg_env, "BROKER_URL": redis_url, "ELSNET_DICOMWEB_SERVERS": servers})


def label_on_study_grid(label: Path, study_volume: bytes, out: Path) -> Path:
    """The CHAOS label resampled (nearest) onto the grid the service made of the DICOM series."""
    ref_path = out.with_name("ref.nii.gz")
    ref_path.write_bytes(study_volume)
    ref = sitk.ReadImage(str(ref_path))
    lab = sitk.Resample(sitk.ReadImage(str(label)), ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    sitk.WriteImage(lab, str(out))
    return out


@pytest.mark.redis
@pytest.mark.postgres
def test_pacs_in_model_out_seg_back(pg_env, redis_url, start_worker, orthanc, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient


    root = orthanc.rsplit("/dicom-web", 1)[0]
    for pid in httpx.get(f"{root}/patients", auth=AUTH).json():
        httpx.delete(f"{root}/patients/{pid}", auth=AUTH).raise_for_status()
    _service_with_pacs("pacs-key", orthanc, pg_env, redis_url, start_worker, monkeypatch)
    from api.main import create_app

    # given: three patients' MR studies on the PACS (real CHAOS cases, as a scanner sends them)
    cases = {}
    for case in ("case_01", "case_02", "case_03"):
        img, lab = small_chaos_case(case, tmp_path)
        cases[case] = (img, lab)
        if case != "case_03":  # case_03 arrives later
            for part in f.dicom_series_from_nifti(img, patient_id=case):
                httpx.post(f"{root}/instances", content=part, auth=AUTH).raise_for_status()

    with TestClient(create_app(), headers={"Authorization": "Bearer pacs-key"}) as client:
        api = Api(client)
        pid = api.project(LABELS)
        ids = {}
        for case in ("case_01", "case_02"):
            found = client.get("/api/v1/dicomweb/pacs/studies", params={"PatientID": case}).json()["data"]
            assert len(found) == 1
            r = client.post(f"/api/v1/projects/{pid}/studies/dicomweb",
                            json={"server": "pacs", "study_instance_uid": found[0]["StudyInstanceUID"]})
            assert r.status_code == 201, r.text
            ids[case] = r.json()["id"]
            assert r.json()["shape"] == list(nib.load(str(cases[case][0])).shape)
        # the exemplar: case_01 annotated on the grid the service made of its DICOM series
        vol = client.get(f"/api/v1/projects/{pid}/studies/{ids['case_01']}/volume").content
        ann = label_on_study_grid(cases["case_01"][1], vol, tmp_path / "ann.nii.gz")
        assert (np.asanyarray(nib.load(str(ann)).dataobj) > 0).sum() == (
            np.asanyarray(nib.load(str(cases["case_01"][1])).dataobj) > 0).sum()  # same voxels, re-gridded
        api.annotate(pid, ids["case_01"], ann)

        # when: a model is trained (it segments the cohort at the end)
        done = api.wait(api.job(pid, {"kind": "train", "preset": "tiny"})["id"], timeout=900)
        assert done["state"] == "succeeded", done["error"]
        # and case_02's mask goes back to the PACS
        r = client.post(f"/api/v1/projects/{pid}/studies/{ids['case_02']}/mask/dicomweb", json={"server": "pacs"})
        assert r.status_code == 200, r.text
        sent = r.json()

        # then: the PACS holds a SEG in case_02's study, voxel for voxel the service's mask
        mask = np.asanyarray(api.mask(pid, ids["case_02"]).dataobj)
        series = httpx.get(f"{orthanc}/studies/{sent['study_instance_uid']}/series", auth=AUTH).json()
        assert sorted(s["00080060"]["Value"][0] for s in series) == ["MR", "SEG"]
        inst = httpx.post(f"{root}/tools/find", auth=AUTH, json={
            "Level": "Instance", "Query": {"SOPInstanceUID": sent["sop_instance_uid"]}}).json()
        seg = hd.seg.Segmentation.from_dataset(
            pydicom.dcmread(io.BytesIO(httpx.get(f"{root}/instances/{inst[0]}/file", auth=AUTH).content)))
        arr = seg.get_volume(combine_segments=True, relabel=False).array
        seg_counts = {int(v): int((arr == v).sum()) for v in np.unique(arr) if v}
        mask_counts = {i + 1: int((mask == int(k)).sum()) for i, k in enumerate(sorted(LABELS, key=int))
                       if (mask == int(k)).any()}
        assert seg_counts == mask_counts and sum(mask_counts.values()) > 0

        # when: a study arrives later and the project segments new studies by itself
        assert client.patch(f"/api/v1/projects/{pid}", json={"auto_segment": True}).status_code == 200
        for part in f.dicom_series_from_nifti(cases["case_03"][0], patient_id="case_03"):
            httpx.post(f"{root}/instances", content=part, auth=AUTH).raise_for_status()
        late = client.get("/api/v1/dicomweb/pacs/studies", params={"PatientID": "case_03"}).json()["data"][0]
        r = client.post(f"/api/v1/projects/{pid}/studies/dicomweb",
                        json={"server": "pacs", "study_instance_uid": late["StudyInstanceUID"]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        # then: its mask appears without anyone asking for it
        deadline = time.time() + 300
        while time.time() < deadline:
            m = client.get(f"/api/v1/projects/{pid}/studies/{sid}/mask")
            if m.status_code == 200:
                break
            time.sleep(1.0)
        assert m.status_code == 200, m.text
        late_mask = nib.Nifti1Image.from_bytes(gzip.decompress(m.content))
        assert list(late_mask.shape) == r.json()["shape"]


def test_the_pacs_pushes_a_study_to_the_service(orthanc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Orthanc's own DICOMweb client sends a study by STOW-RS (as a PACS routing rule would);
    the study appears in the project, read from the pushed instances."""
    from tests.e2e.helpers import serve_page

    root = orthanc.rsplit("/dicom-web", 1)[0]
    img, _ = small_chaos_case("case_02", tmp_path)
    for part in f.dicom_series_from_nifti(img, patient_id="pushed-02"):
        httpx.post(f"{root}/instances", content=part, auth=AUTH).raise_for_status()
    orthanc_study = httpx.post(f"{root}/tools/find", auth=AUTH,
                               json={"Level": "Study", "Query": {"PatientID": "pushed-02"}}).json()
    assert len(orthanc_study) == 1
    home = tmp_path / "home"
    home.mkdir()
    with serve_page(home, "push-key") as (base, _):
        client = httpx.Client(base_url=base, headers={"Authorization": "Bearer push-key"}, timeout=60)
        pid = client.post("/api/v1/projects", json={"name": "pushed", "labels": LABELS}).json()["id"]
        # given: the PACS knows the service as a DICOMweb server (per project address, API key header)
        r = httpx.put(f"{root}/dicom-web/servers/elsnet", auth=AUTH, json={
            "Url": f"{base}/api/v1/projects/{pid}/dicomweb/", "HttpHeaders": {"Authorization": "Bearer push-key"}})
        assert r.status_code == 200, r.text
        # when: the PACS sends the study
        r = httpx.post(f"{root}/dicom-web/servers/elsnet/stow", auth=AUTH, timeout=120,
                       json={"Resources": orthanc_study, "Synchronous": True})
        assert r.status_code == 200, r.text
        # then: it is a study of the project, on the grid of the original volume
        studies = client.get(f"/api/v1/projects/{pid}/studies").json()["data"]
        assert len(studies) == 1 and studies[0]["source_format"] == "dicom"
        assert studies[0]["name"] == "pushed-02 T2 SPIR"
        assert studies[0]["shape"] == list(nib.load(str(img)).shape)


@pytest.mark.redis
@pytest.mark.postgres
def test_a_cohort_comes_in_from_the_pacs_as_one_job(pg_env, redis_url, start_worker, orthanc, tmp_path,  # type: ignore[no-untyped-def]
                                                    monkeypatch) -> None:
    """An import job brings several PACS studies in with progress; one that cannot come in
    (a study with two series, a UID the PACS does not have) is reported, the rest arrive."""
    from fastapi.testclient import TestClient


    root = orthanc.rsplit("/dicom-web", 1)[0]
    _service_with_pacs("import-key", orthanc, pg_env, redis_url, start_worker, monkeypatch)
    from api.main import create_app

    # given: two single-series studies and one study holding two series on the PACS
    singles = [f.dicom_series(n=3, rows=8, cols=6), f.dicom_series(n=4, rows=8, cols=6)]
    two = f.dicom_series(n=2)
    study_two = pydicom.dcmread(io.BytesIO(two[0])).StudyInstanceUID
    second = f.retag(f.dicom_series(n=2), StudyInstanceUID=study_two)
    for part in [*singles[0], *singles[1], *two, *second]:
        httpx.post(f"{root}/instances", content=part, auth=AUTH).raise_for_status()
    uids = [str(pydicom.dcmread(io.BytesIO(s[0])).StudyInstanceUID) for s in singles]

    with TestClient(create_app(), headers={"Authorization": "Bearer import-key"}) as client, Receiver() as hook:
        api = Api(client)
        pid = api.project(LABELS)
        assert client.post(f"/api/v1/projects/{pid}/webhooks",
                           json={"url": hook.url, "events": ["job.succeeded"]}).status_code == 201
        refs = [{"study_instance_uid": u} for u in [uids[0], str(study_two), "1.2.3.4.5.404", uids[1]]]
        # when
        job = api.job(pid, {"kind": "import", "server": "pacs", "studies": refs})
        done = api.wait(job["id"], timeout=300)
        # then: two studies arrived, the other two are reported with their reason
        assert done["state"] == "succeeded", done["error"]
        results = done["metrics"]["import_results"]
        assert [("study_id" in r) for r in results] == [True, False, False, True]
        assert "2 image series" in results[1]["error"] and "not found" in results[2]["error"]
        assert done["metrics"]["imported"] == 2 and done["metrics"]["not_imported"] == 2
        studies = client.get(f"/api/v1/projects/{pid}/studies").json()["data"]
        assert sorted(s["shape"][2] for s in studies) == [3, 4]
        assert {s["id"] for s in studies} == {results[0]["study_id"], results[3]["study_id"]}
        assert done["progress"] == 1.0 and done["stage"] == "import"
        # the hospital's server is told which studies arrived
        event = hook.wait_for(1)[0].json
        assert event["event"] == "job.succeeded" and event["job"]["id"] == job["id"]
        assert event["job"]["imported_study_ids"] == [results[0]["study_id"], results[3]["study_id"]]
        # a job of which nothing can come in fails and says why
        bad = api.wait(api.job(pid, {"kind": "import", "server": "pacs",
                                     "studies": [{"study_instance_uid": "1.2.3.4.5.404"}]})["id"], timeout=300)
        assert bad["state"] == "failed" and "none of the 1 studies" in bad["error"] and "not found" in bad["error"]
        # bad requests are refused before anything is queued
        r = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "import", "server": "nope", "studies": refs})
        assert r.status_code == 422 and "unknown DICOMweb server" in r.json()["detail"]
        r = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "import", "server": "pacs", "studies": []})
        assert r.status_code == 422 and "needs 'studies'" in r.json()["detail"]
