from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests import factories as f


def upload(client: TestClient, pid: str, files):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/projects/{pid}/studies", files=files)


def test_nifti_upload_dedup_and_volume_roundtrip(client: TestClient, project: dict) -> None:
    data = f.volume()
    raw = f.nifti_bytes(data)
    r = upload(client, project["id"], {"file": ("a.nii.gz", raw)})
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["shape"] == [24, 20, 6] and s["spacing"] == [1.5, 1.5, 4.0] and s["modality"] == "MR"
    again = upload(client, project["id"], {"file": ("renamed.nii.gz", raw)})
    assert again.status_code == 200 and again.json()["id"] == s["id"]
    assert client.get(f"/api/v1/projects/{project['id']}/studies").json()["count"] == 1
    vol = client.get(f"/api/v1/projects/{project['id']}/studies/{s['id']}/volume")
    img = nib.Nifti1Image.from_bytes(__import__("gzip").decompress(vol.content))
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), data)
    np.testing.assert_allclose(img.affine, f.AFFINE)


def test_dicom_zip_and_multi_file_upload(client: TestClient, project: dict) -> None:
    series = f.dicom_series(n=4)
    r = upload(client, project["id"], {"file": ("s.zip", f.zip_of({f"x/{i}.dcm": b for i, b in enumerate(series)}))})
    assert r.status_code == 201, r.text
    assert r.json()["shape"] == [12, 16, 4] and r.json()["source_format"] == "dicom"
    assert r.json()["spacing"] == pytest.approx([1.0, 1.0, 3.0])
    other = f.dicom_series(n=3)
    r2 = client.post(f"/api/v1/projects/{project['id']}/studies", files=[("file", (f"{i}.dcm", b)) for i, b in enumerate(other)])
    assert r2.status_code == 201, r2.text
    assert r2.json()["shape"][2] == 3


def test_the_same_dicom_series_in_another_packaging_finds_the_existing_study(client: TestClient, project: dict) -> None:
    # given: a series uploaded as a zip
    series = f.dicom_series(n=4)
    first = upload(client, project["id"], {"file": ("s.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(series)}))})
    assert first.status_code == 201, first.text
    # when: the same instances come as loose files, rewritten with another patient name (other
    # bytes, same UIDs, as a PACS may send them), and as a zip with one instance missing
    loose = f.retag(series, PatientName="Re^Sent")
    again = client.post(f"/api/v1/projects/{project['id']}/studies",
                        files=[("file", (f"{i}.dcm", b)) for i, b in enumerate(loose)])
    partial = upload(client, project["id"], {"file": ("p.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(series[:3])}))})
    # then: the first is the same study; three of four instances are another series' content
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert partial.status_code == 201 and partial.json()["id"] != first.json()["id"]
    assert client.get(f"/api/v1/projects/{project['id']}/studies").json()["count"] == 2


@pytest.mark.parametrize(
    ("name", "payload", "needle"),
    [
        ("notes.nii.gz", b"this is not an image at all", "not a readable NIfTI"),
        ("trunc.nii.gz", f.nifti_bytes(f.volume())[:300], "not a readable NIfTI"),
        ("two.zip", f.zip_of({"a.dcm": f.dicom_series(2)[0], "b.dcm": f.dicom_series(2)[0]}), "2 DICOM series"),
        ("none.zip", f.zip_of({"readme.txt": b"hello"}), "no DICOM series"),
        ("nopix.zip", f.zip_of({"a.dcm": f.dicom_series(1, pixels=False)[0]}), "no pixel data"),
        ("bad.zip", b"PK\x03\x04garbage", "not a valid zip"),
        ("gap.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(f.dicom_series(5)) if i != 2}),
         "slices missing along the slice normal between positions 3.0 and 9.0 mm (1 slice)"),
        ("cine.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(
            f.dicom_series(4, series_uid="1.2.3.9") + f.dicom_series(4, series_uid="1.2.3.9"))}),
         "2 images at each of 4 positions"),
        ("tilt.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(
            f.dicom_series(4, positions=[(0.0, 3.0 * np.tan(np.radians(20)) * i, 3.0 * i) for i in range(4)]))}),
         "gantry tilt of 20.0 deg"),
    ],
)
def test_bad_uploads_are_422_and_store_nothing(client: TestClient, project: dict, name: str, payload: bytes, needle: str) -> None:
    r = upload(client, project["id"], {"file": (name, payload)})
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]
    assert client.get(f"/api/v1/projects/{project['id']}/studies").json()["count"] == 0


def test_an_incomplete_series_is_refused_and_the_stored_study_is_untouched(client: TestClient, project: dict) -> None:
    # given: a complete series stored as a study
    series = f.dicom_series(n=5)
    first = upload(client, project["id"], {"file": ("s.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(series)}))})
    assert first.status_code == 201, first.text
    volume = client.get(f"/api/v1/projects/{project['id']}/studies/{first.json()['id']}/volume").content
    # when: the same series comes again with its middle slice missing
    partial = upload(client, project["id"], {"file": ("p.zip", f.zip_of({f"{i}.dcm": b for i, b in enumerate(series) if i != 2}))})
    # then: 422 naming the gap; the stored study and its volume are as they were
    assert partial.status_code == 422 and "between positions 3.0 and 9.0 mm (1 slice)" in partial.json()["detail"]
    studies = client.get(f"/api/v1/projects/{project['id']}/studies").json()
    assert studies["count"] == 1 and studies["data"][0]["id"] == first.json()["id"]
    assert client.get(f"/api/v1/projects/{project['id']}/studies/{first.json()['id']}/volume").content == volume


def test_upload_over_limit_is_413(client: TestClient, project: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from store.db import reset_caches

    monkeypatch.setenv("ELSNET_MAX_UPLOAD_BYTES", "1000")
    reset_caches()
    r = upload(client, project["id"], {"file": ("a.nii.gz", f.nifti_bytes(f.volume(), gz=False))})
    assert r.status_code == 413 and "limit" in r.json()["detail"]


@pytest.fixture
def study(client: TestClient, project: dict) -> dict:
    r = upload(client, project["id"], {"file": ("a.nii.gz", f.nifti_bytes(f.volume()))})
    assert r.status_code == 201
    return r.json()


def put_annotation(client: TestClient, project: dict, study: dict, data, affine=f.AFFINE):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/v1/projects/{project['id']}/studies/{study['id']}/annotation",
        files={"file": ("lab.nii.gz", f.nifti_bytes(data, affine))},
    )


def test_annotation_roundtrip_one_slice(client: TestClient, project: dict, study: dict) -> None:
    lab = f.label_map(unannotated=True)
    r = put_annotation(client, project, study, lab)
    assert r.status_code == 200, r.text
    assert r.json()["is_exemplar"] and r.json()["annotated_slices"] == 1
    got = client.get(f"/api/v1/projects/{project['id']}/studies/{study['id']}/annotation")
    img = nib.Nifti1Image.from_bytes(__import__("gzip").decompress(got.content))
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), lab)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: f.label_map(shape=(24, 20, 5)), "shape"),
        (lambda: f.label_map(value=7), "label values [7]"),
        (lambda: np.full((24, 20, 6), 255, np.uint8), "annotates nothing"),
        (lambda: np.zeros((24, 20, 6), np.uint8), "no organ label"),
    ],
)
def test_bad_annotations_are_422_and_keep_the_old_one(client: TestClient, project: dict, study: dict, make, needle: str) -> None:  # type: ignore[no-untyped-def]
    good = f.label_map()
    assert put_annotation(client, project, study, good).status_code == 200
    r = put_annotation(client, project, study, make())
    assert r.status_code == 422 and needle in r.json()["detail"], r.text
    got = client.get(f"/api/v1/projects/{project['id']}/studies/{study['id']}/annotation")
    img = nib.Nifti1Image.from_bytes(__import__("gzip").decompress(got.content))
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), good)


def test_annotation_with_other_geometry_is_422(client: TestClient, project: dict, study: dict) -> None:
    shifted = f.AFFINE.copy()
    shifted[0, 3] += 10
    r = put_annotation(client, project, study, f.label_map(), affine=shifted)
    assert r.status_code == 422 and "geometry" in r.json()["detail"]


def test_mask_404_before_training_and_thumbnail(client: TestClient, project: dict, study: dict) -> None:
    r = client.get(f"/api/v1/projects/{project['id']}/studies/{study['id']}/mask")
    assert r.status_code == 404 and "no mask yet" in r.json()["detail"]
    png = client.get(f"/api/v1/projects/{project['id']}/studies/{study['id']}/thumbnail.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_ct_is_recognised_and_errors_do_not_leak_server_paths(client: TestClient, project: dict) -> None:
    ct = (f.volume() * 4 - 125).astype(np.int16)  # an abdominal-window CT: HU down to -125
    r = upload(client, project["id"], {"file": ("ct.nii.gz", f.nifti_bytes(ct))})
    assert r.status_code == 201 and r.json()["modality"] == "CT"
    bad = upload(client, project["id"], {"file": ("scan.nii.gz", b"\x1f\x8b\x08\x00broken")})
    assert bad.status_code == 422
    assert "/tmp" not in bad.json()["detail"] and "uploads" not in bad.json()["detail"]
    assert "'scan.nii.gz'" in bad.json()["detail"]
