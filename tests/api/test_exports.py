"""The cohort's results in one download: volumes.csv and masks.zip (real PostgreSQL, storage)."""

from __future__ import annotations

import csv
import gzip
import io
import zipfile

import nibabel as nib
import numpy as np
import pydicom
from fastapi.testclient import TestClient

from tests import factories as f


def _upload(client: TestClient, pid: str, name: str, seed: int) -> dict:
    r = client.post(f"/api/v1/projects/{pid}/studies", files={"file": (name, f.nifti_bytes(f.volume(seed=seed)))})
    assert r.status_code == 201, r.text
    return r.json()


def test_volumes_csv_and_masks_zip_hold_every_study_of_the_cohort(client: TestClient, project: dict) -> None:
    # given: three studies, two segmented (the second with no kidney), one not yet
    pid = project["id"]
    a, b, c = (_upload(client, pid, n, i) for i, n in enumerate(["case a.nii.gz", "b.nii.gz", "c.nii.gz"]))
    mask_a, mask_b = f.label_map(value=1), f.label_map(value=2)
    mask_b[0, 0, 0] = 1
    model_id = f.model_with_masks(pid, {a["id"]: mask_a, b["id"]: mask_b},
                                 {a["id"]: {"1": 12.5, "2": 3.25}, b["id"]: {"1": 40.0}})
    # when
    r = client.get(f"/api/v1/projects/{pid}/volumes.csv")
    # then: one row per study, volumes per organ in ml (0 for an organ the mask lacks)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["study_id"] for row in table] == [a["id"], b["id"], c["id"]]
    assert (table[0]["liver_ml"], table[0]["kidney_right_ml"], table[0]["confidence"]) == ("12.50", "3.25", "0.8750")
    assert (table[1]["liver_ml"], table[1]["kidney_right_ml"], table[1]["model_id"]) == ("40.00", "0.00", model_id)
    assert (table[2]["status"], table[2]["liver_ml"]) == ("no mask", "")

    # when: all masks as one zip
    z = client.get(f"/api/v1/projects/{pid}/masks.zip")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        names = sorted(zf.namelist())
        listed = {row["study_id"]: row["mask_file"] for row in csv.DictReader(io.StringIO(zf.read("volumes.csv").decode()))}
        got = {sid: np.asanyarray(nib.Nifti1Image.from_bytes(gzip.decompress(zf.read(name))).dataobj)
               for sid, name in listed.items() if name}
    # then: each segmented study's mask, voxel for voxel, named after the study; none for c
    assert names == sorted(["volumes.csv", f"masks/case_a__{a['id']}_mask.nii.gz", f"masks/b__{b['id']}_mask.nii.gz"])
    assert listed[c["id"]] == "" and set(got) == {a["id"], b["id"]}
    np.testing.assert_array_equal(got[a["id"]], mask_a)
    np.testing.assert_array_equal(got[b["id"]], mask_b)

    # when: as DICOM SEG
    seg = client.get(f"/api/v1/projects/{pid}/masks.zip", params={"format": "dicom-seg", "model": model_id})
    assert seg.status_code == 200, seg.text
    with zipfile.ZipFile(io.BytesIO(seg.content)) as zf:
        ds = pydicom.dcmread(io.BytesIO(zf.read(f"masks/case_a__{a['id']}_seg.dcm")))
    assert ds.Modality == "SEG" and [s.SegmentLabel for s in ds.SegmentSequence] == ["liver", "kidney_right"]


def test_exports_say_what_is_missing(client: TestClient, project: dict) -> None:
    pid = project["id"]
    _upload(client, pid, "a.nii.gz", 0)
    r = client.get(f"/api/v1/projects/{pid}/masks.zip")
    assert r.status_code == 404 and "train a model" in r.json()["detail"]
    r = client.get(f"/api/v1/projects/{pid}/volumes.csv", params={"model": "0" * 32})
    assert r.status_code == 404 and "not found in project" in r.json()["detail"]
    r = client.get(f"/api/v1/projects/{pid}/masks.zip", params={"format": "png"})
    assert r.status_code == 422
