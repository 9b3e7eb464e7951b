"""DICOM SEG export: the SEG's frames carry exactly the mask's voxels, for NIfTI and DICOM studies."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest

from store import export, services
from store.db import session_scope
from store.models import Mask, Model
from store.storage import get_store
from tests import factories as f


def _study_with_mask(tmp_path: Path, files: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    paths = [(n, f.write(tmp_path / n, b)) for n, b in files]
    with session_scope() as s:
        project = services.create_project(s, "p", {"1": "liver", "3": "spleen"}, None, False)
        study, _ = services.add_study(s, project, paths, sha256=f"sha-{len(files)}", size=1, modality=None)
        shape = tuple(study.shape)
        labels = np.zeros(shape, np.uint8)
        labels[2:6, 3:7, 1] = 1
        labels[5:9, 1:4, 2] = 3
        mask_path = tmp_path / "mask.nii.gz"
        nib.save(nib.Nifti1Image(labels, np.asarray(study.affine)), str(mask_path))
        get_store().put_file("masks/t/m.nii.gz", mask_path)
        model = Model(project_id=project.id, job_id="j", artifact_key="x", config={}, metrics={}, exemplar_study_ids=[])
        s.add(model)
        s.flush()
        mask = Mask(study_id=study.id, model_id=model.id, job_id="j", key="masks/t/m.nii.gz")
        s.add(mask)
        s.flush()
        return study, mask, project, labels


@pytest.mark.parametrize("source", ["nifti", "dicom"])
def test_dicom_seg_frames_match_mask(sqlite_env: dict, tmp_path: Path, source: str) -> None:
    if source == "nifti":
        files = [("v.nii.gz", f.nifti_bytes(f.volume((12, 10, 4))))]
    else:
        files = [(f"{i}.dcm", b) for i, b in enumerate(f.dicom_series(n=4, rows=10, cols=12))]
    study, mask, project, labels = _study_with_mask(tmp_path, files)
    raw = export.mask_to_dicom_seg(study, mask, project)
    seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(__import__("io").BytesIO(raw)))
    assert [d.SegmentLabel for d in seg.SegmentSequence] == ["liver", "spleen"]
    # each voxel of organ k in slice z appears in the frame of segment k that refers to slice z
    vol = seg.get_volume(combine_segments=True, relabel=False) if hasattr(seg, "get_volume") else None
    assert vol is not None
    arr = vol.array  # (slices, rows, cols) in the SEG's own frame order
    counts = {int(v): int((arr == v).sum()) for v in np.unique(arr) if v}
    assert counts == {1: int((labels == 1).sum()), 2: int((labels == 3).sum())}
    per_slice = sorted(int((arr[z] > 0).sum()) for z in range(arr.shape[0]) if (arr[z] > 0).any())
    assert per_slice == sorted(int((labels[:, :, z] > 0).sum()) for z in range(labels.shape[2]) if (labels[:, :, z] > 0).any())


@pytest.mark.parametrize("upload", ["with a localizer", "enhanced", "two enhanced"])
def test_dicom_seg_frames_lie_on_their_mask_slices(sqlite_env: dict, tmp_path: Path, upload: str) -> None:
    # given: a DICOM study read without its localizer, or from one enhanced image whose frames
    # run from the last slice to the first, or from two enhanced images of one series (the SEG
    # then refers to a derived series on the study's grid, as for a NIfTI upload)
    series = f.dicom_series(n=4, rows=10, cols=12, series_uid="1.2.826.0.1.3680043.8.498.81")
    if upload == "enhanced":
        files = [("enhanced.dcm", f.enhanced_mr(series))]
    elif upload == "two enhanced":
        uid = "1.2.826.0.1.3680043.8.498.82"
        files = [("a.dcm", f.enhanced_mr(series[:2], uid)), ("b.dcm", f.enhanced_mr(series[2:], uid))]
    else:
        scout = f.retag(series[:1], ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"], SOPInstanceUID="1.2.3.4.5",
                        ImageOrientationPatient=[0.0, 1.0, 0.0, 0.0, 0.0, -1.0], ImagePositionPatient=[0, -50, 60])
        files = [("scout.dcm", scout[0])] + [(f"{i}.dcm", b) for i, b in enumerate(series)]
    study, mask, project, labels = _study_with_mask(tmp_path, files)
    # when
    seg_bytes, derived = export.mask_to_dicom_seg_with_sources(study, mask, project)
    seg = pydicom.dcmread(__import__("io").BytesIO(seg_bytes))
    # a PACS gets the derived series with the SEG exactly when the SEG refers to one
    assert len(derived) == (4 if upload == "two enhanced" else 0)
    # then: each SEG frame carries the mask's organ on the slice at the frame's position (z = 3 k)
    frames = seg.pixel_array.reshape(-1, 10, 12)
    label_of = {1: 1, 2: 3}  # segment number -> label value
    assert len(frames) > 0
    for j, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        k = round(float(item.PlanePositionSequence[0].ImagePositionPatient[2]) / 3.0)
        value = label_of[int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)]
        np.testing.assert_array_equal(frames[j], (labels[:, :, k] == value).T)
