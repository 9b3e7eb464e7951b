"""Test data factories: small NIfTI volumes and DICOM series written with the real libraries."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

AFFINE = np.array([[-1.5, 0, 0, 90.0], [0, 1.5, 0, -60.0], [0, 0, 4.0, 12.0], [0, 0, 0, 1]])


def volume(shape=(24, 20, 6), seed=0) -> np.ndarray:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 100).astype(np.float32)


def nifti_bytes(data: np.ndarray, affine: np.ndarray = AFFINE, gz: bool = True) -> bytes:
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    return (gzip_bytes(img.to_bytes())) if gz else img.to_bytes()


def gzip_bytes(raw: bytes) -> bytes:
    import gzip

    return gzip.compress(raw, compresslevel=1)


def label_map(shape=(24, 20, 6), value=1, unannotated=False) -> np.ndarray:  # type: ignore[no-untyped-def]
    lab = np.full(shape, 255 if unannotated else 0, dtype=np.uint8)
    lab[:, :, 2] = 0
    lab[5:12, 6:14, 2] = value
    return lab


def dicom_series(n: int = 4, rows: int = 16, cols: int = 12, series_uid: str | None = None, pixels: bool = True,
                 positions: list[tuple[float, float, float]] | None = None,
                 orientation: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)) -> list[bytes]:
    """``n`` MR slices of one series (1 mm pixels, 3 mm apart), as DICOM Part-10 bytes.

    ``positions``: each slice's ImagePositionPatient (LPS mm; default ``(0, 0, 3 i)``), e.g.
    a stack with a slice missing or sheared by a gantry tilt; slice i's pixels are
    ``arange(rows * cols) + 10 i``."""
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(), generate_uid()
    positions = positions or [(0.0, 0.0, 3.0 * i) for i in range(n)]
    out = []
    for i in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(f"slice{i}.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.PatientName, ds.PatientID, ds.Modality = "Test^Phantom", "P1", "MR"
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [float(v) for v in positions[i]]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], 3.0
        if pixels:
            ds.Rows, ds.Columns = rows, cols
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.PixelData = (np.arange(rows * cols, dtype=np.uint16).reshape(rows, cols) + 10 * i).tobytes()
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append(buf.getvalue())
    return out


def retag(parts: list[bytes], **attributes: object) -> list[bytes]:
    """The same DICOM instances with some attributes changed, e.g. moved into another study
    (``StudyInstanceUID=...``) or given another ``Modality``."""
    import pydicom

    out = []
    for p in parts:
        ds = pydicom.dcmread(io.BytesIO(p))
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append(buf.getvalue())
    return out


def enhanced_mr(parts: list[bytes], series_uid: str | None = None) -> bytes:
    """Single-frame MR instances as one enhanced multi-frame image (highdicom's legacy
    conversion: per-frame positions, shared orientation, pixel measures and rescale), in a new
    series or in ``series_uid``."""
    import highdicom as hd
    import pydicom

    datasets = [pydicom.dcmread(io.BytesIO(p)) for p in parts]
    image = hd.legacy.LegacyConvertedEnhancedMRImage(
        datasets, series_instance_uid=series_uid or hd.UID(), series_number=2, sop_instance_uid=hd.UID(), instance_number=1
    )
    buf = io.BytesIO()
    image.save_as(buf)
    return buf.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def dicom_series_from_nifti(path: Path, patient_id: str, modality: str = "MR") -> list[bytes]:
    """A NIfTI volume as the DICOM series a scanner would have sent (one MR slice per file,
    positions and orientation in LPS from the NIfTI geometry, intensities rescaled to 12 bits)."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))  # LPS physical space, as DICOM
    arr = sitk.GetArrayFromImage(image).astype(np.float64)  # (z, y, x)
    lo, hi = float(arr.min()), float(arr.max())
    slope = max(hi - lo, 1e-6) / 4095.0
    d = np.asarray(image.GetDirection()).reshape(3, 3)
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    out = []
    for k in range(arr.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = MRImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(f"{k}.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.PatientName, ds.PatientID, ds.Modality = f"Sample^{patient_id}", patient_id, modality
        ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = 1, k + 1, "T2 SPIR"
        ds.ImageOrientationPatient = [*d[:, 0].tolist(), *d[:, 1].tolist()]
        ds.ImagePositionPatient = list(image.TransformIndexToPhysicalPoint((0, 0, k)))
        ds.PixelSpacing = [image.GetSpacing()[1], image.GetSpacing()[0]]
        ds.SliceThickness = image.GetSpacing()[2]
        ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = lo, slope
        ds.PixelData = np.round((arr[k] - lo) / slope).astype(np.uint16).tobytes()
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append(buf.getvalue())
    return out


def model_with_masks(project_id: str, masks: dict[str, np.ndarray],
                     volumes: dict[str, dict[str, float]] | None = None, confidence: float = 0.875) -> str:
    """A model row and one stored mask per study id, with the keys a finished infer job leaves
    (for tests of what reads masks: exports, downloads; a training would take minutes)."""
    from store.db import session_scope
    from store.models import Mask, Model
    from store.storage import get_store

    with session_scope() as s:
        model = Model(project_id=project_id, job_id="j", artifact_key="a", config={}, metrics={}, exemplar_study_ids=[])
        s.add(model)
        s.flush()
        for sid, labels in masks.items():
            key = f"masks/{sid}/{model.id}.nii.gz"
            get_store().put_bytes(key, nifti_bytes(labels))
            s.add(Mask(study_id=sid, model_id=model.id, job_id="j", key=key, confidence=confidence,
                       class_volumes_ml=(volumes or {}).get(sid, {"1": 1.0})))
        return model.id
