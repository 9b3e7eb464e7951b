"""The cohort export as a job: a real Celery worker process zips the project's masks into the object
store (PostgreSQL + Redis, through the public API), the zip downloads with the masks voxel for
voxel as each study's own mask download gives them, and the worker's reaper deletes it when it
expires."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import time
import zipfile
from datetime import UTC, datetime, timedelta

import nibabel as nib
import numpy as np
import pydicom
import pytest

from store import cohort
from store.db import session_scope
from store.models import Job, utcnow
from store.storage import get_store
from tests import factories as f

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
LABELS = {"1": "liver", "2": "kidney_right"}


def zip_of(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_a_worker_exports_the_cohort_then_the_zip_expires(service, start_worker) -> None:  # type: ignore[no-untyped-def]
    api, env = service
    pid = api.project(LABELS)
    studies = []
    for i, name in enumerate(["case a.nii.gz", "b.nii.gz", "c.nii.gz"]):
        r = api.c.post(f"/api/v1/projects/{pid}/studies", files={"file": (name, f.nifti_bytes(f.volume(seed=i)))})
        assert r.status_code == 201, r.text
        studies.append(r.json())
    a, b, c = (s["id"] for s in studies)
    mask_b = f.label_map(value=2)
    mask_b[0, 0, 0] = 1
    model_id = f.model_with_masks(pid, {a: f.label_map(value=1), b: mask_b}, confidence=0.9)  # c: not segmented
    # given: an export job queued before any worker runs: its zip is not there yet
    job = api.job(pid, {"kind": "export"})
    r = api.c.get(f"/api/v1/jobs/{job['id']}/download")
    assert r.status_code == 404 and "is queued (0 %): the zip is not ready yet" in r.json()["detail"]
    start_worker(env)
    # when
    done = api.wait(job["id"], timeout=300)
    # then: one event per mask written (stage export, up to 0.95), then the zip stored
    assert done["state"] == "succeeded", done["error"]
    assert all(y >= x for x, y in itertools.pairwise(done["_progress_seen"]))
    events = api.c.get(f"/api/v1/jobs/{job['id']}/metrics").json()["data"]
    per_mask = [e for e in events if e["stage"] == "export" and e["message"][:1].isdigit()]
    assert [e["message"] for e in per_mask] == ["1/2: case a", "2/2: b"]
    assert [e["progress"] for e in per_mask] == pytest.approx([0.475, 0.95])
    assert per_mask[0]["eta_s"] is not None and per_mask[-1]["eta_s"] == pytest.approx(0.0)
    assert [e["stage"] for e in events][-2:] == ["store", "store"] and done["progress"] == 1.0
    m = done["metrics"]
    assert (m["format"], m["n_studies"], m["n_masks"], m["file_name"]) == ("nifti", 3, 2, "e2e_masks.zip")
    expires = datetime.fromisoformat(m["expires_at"])
    assert timedelta(hours=23.9) < expires - datetime.now(UTC) <= timedelta(hours=24)

    # when: downloaded
    r = api.c.get(f"/api/v1/jobs/{job['id']}/download")
    # then: the bytes the job measured, each mask voxel for voxel (and on the same grid) as its
    # study's own mask download, the same members as the direct masks.zip
    assert r.status_code == 200, r.text
    assert (len(r.content), hashlib.sha256(r.content).hexdigest()) == (m["bytes"], m["sha256"])
    got = zip_of(r.content)
    assert sorted(got) == sorted(["volumes.csv", f"masks/case_a__{a}_mask.nii.gz", f"masks/b__{b}_mask.nii.gz"])
    for sid, name in ((a, f"masks/case_a__{a}_mask.nii.gz"), (b, f"masks/b__{b}_mask.nii.gz")):
        zipped = nib.Nifti1Image.from_bytes(gzip.decompress(got[name]))
        single = api.mask(pid, sid)
        np.testing.assert_array_equal(np.asanyarray(zipped.dataobj), np.asanyarray(single.dataobj))
        np.testing.assert_allclose(zipped.affine, single.affine)
    table = {row["study_id"]: row["status"] for row in csv.DictReader(io.StringIO(got["volumes.csv"].decode()))}
    assert table == {a: "segmented", b: "segmented", c: "no mask"}
    direct = api.c.get(f"/api/v1/projects/{pid}/masks.zip")
    assert zip_of(direct.content) == got

    # when: the same as DICOM SEG, the model named
    seg_job = api.wait(api.job(pid, {"kind": "export", "format": "dicom-seg", "model_id": model_id})["id"], timeout=300)
    assert seg_job["state"] == "succeeded", seg_job["error"]
    assert (seg_job["model_id"], seg_job["metrics"]["format"], seg_job["metrics"]["n_masks"]) == (model_id, "dicom-seg", 2)
    segs = zip_of(api.c.get(f"/api/v1/jobs/{seg_job['id']}/download").content)
    # then: each study's SEG holds the frames its single DICOM SEG download holds
    for sid, name in ((a, f"masks/case_a__{a}_seg.dcm"), (b, f"masks/b__{b}_seg.dcm")):
        zipped_ds = pydicom.dcmread(io.BytesIO(segs[name]))
        r = api.c.get(f"/api/v1/projects/{pid}/studies/{sid}/mask", params={"format": "dicom-seg"})
        single_ds = pydicom.dcmread(io.BytesIO(r.content))
        assert zipped_ds.Modality == "SEG"
        assert [s.SegmentLabel for s in zipped_ds.SegmentSequence] == [s.SegmentLabel for s in single_ds.SegmentSequence]
        assert (zipped_ds.NumberOfFrames, zipped_ds.PixelData) == (single_ds.NumberOfFrames, single_ds.PixelData)

    # when: the first zip's time is up
    with session_scope() as s:
        row = s.get(Job, job["id"])
        assert row is not None
        row.metrics = {**row.metrics, "expires_at": (utcnow() - timedelta(seconds=1)).isoformat()}
    # then: the worker's reaper deletes it and says so on the job; the download answers 410
    deadline = time.time() + 60
    while not api.c.get(f"/api/v1/jobs/{job['id']}").json()["metrics"].get("expired_at"):
        assert time.time() < deadline, "the reaper did not delete the expired export"
        time.sleep(0.5)
    assert not get_store().exists(cohort.export_key(pid, job["id"]))
    r = api.c.get(f"/api/v1/jobs/{job['id']}/download")
    assert r.status_code == 410
    assert "ELSNET_EXPORT_RETENTION_HOURS" in r.json()["detail"] and '"kind": "export", "format": "nifti"' in r.json()["detail"]
    # the other export is kept until its own time
    assert api.c.get(f"/api/v1/jobs/{seg_job['id']}/download").status_code == 200
