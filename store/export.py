"""DICOM SEG export of a mask (highdicom), for PACS and viewers that read DICOM.

A study uploaded as DICOM is segmented against its original series (the SEG references those
SOP instances). A study uploaded as NIfTI has no DICOM of its own: a derived secondary series is
generated in memory from the canonical volume (same geometry, same frame of reference) and the
SEG references it; the SEG carries its own plane positions, so its geometry stands alone.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.sr.codedict import codes

from dicom_geometry import group_series, slice_frames
from store import volumes
from store.models import Mask, Project, Study
from store.settings import get_settings
from store.storage import get_store

TYPE2_PATIENT_STUDY = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyID", "StudyDate", "StudyTime",
    "AccessionNumber", "ReferringPhysicianName",
)


def _source_from_dicom(study: Study, tmp: Path) -> tuple[list[pydicom.Dataset], list[int]] | None:
    """The study's own image instances as its volume was read from them (in slice order,
    localizers left out: ``dicom_geometry.slice_frames``), and for each SEG frame the volume
    slice it covers: the slices in order for single-frame images, an enhanced image's frames
    in the file's own order (highdicom pairs SEG frames with the source's frames). None for a
    series made of several enhanced images (highdicom takes one enhanced source): the caller
    refers the SEG to a derived series instead, as for a NIfTI upload."""
    store = get_store()
    files: list[Path] = []
    for i, key in enumerate(study.original_keys):
        p = store.get_to_path(key, tmp / f"orig{i}_{Path(key).name}")
        if p.suffix.lower() == ".zip":
            with zipfile.ZipFile(p) as zf:
                for j, m in enumerate(zf.infolist()):
                    if not m.is_dir():
                        out = tmp / f"z{j}.dcm"
                        out.write_bytes(zf.read(m))
                        files.append(out)
        else:
            files.append(p)
    # non-DICOM members of the zip were ignored at upload too
    frames = slice_frames([p for group in group_series(files).values() for p in group])
    datasets: list[pydicom.Dataset] = []
    for path in dict.fromkeys(fr.path for fr in frames):
        ds = pydicom.dcmread(str(path))
        for kw in TYPE2_PATIENT_STUDY:  # highdicom copies these; some exporters omit them
            if kw not in ds:
                setattr(ds, kw, "")
        datasets.append(ds)
    if all(fr.index is None for fr in frames):
        return datasets, list(range(len(frames)))
    if len(datasets) != 1:
        return None
    return datasets, sorted(range(len(frames)), key=lambda k: frames[k].index or 0)


def _source_from_volume(image: sitk.Image, study: Study) -> list[pydicom.Dataset]:
    """A derived MR/CT series with the canonical volume's geometry (one dataset per slice)."""
    arr = sitk.GetArrayFromImage(image)  # (z, y, x)
    lo, hi = float(arr.min()), float(arr.max())
    slope = max(hi - lo, 1e-6) / 4095.0
    # UIDs derived from the study id: every export of one study refers to the same derived
    # series, so a PACS that received it once keeps one copy (and each SEG joins that study)
    def uid(*what: object) -> str:
        return str(pydicom.uid.generate_uid(entropy_srcs=["elsnet", study.id, *map(str, what)]))

    study_uid, series_uid, frame_uid = uid("study"), uid("series"), uid("frame")
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    iop = [*direction[:, 0].tolist(), *direction[:, 1].tolist()]
    sop_class = pydicom.uid.CTImageStorage if study.modality == "CT" else pydicom.uid.MRImageStorage
    out = []
    for k in range(arr.shape[0]):
        ds = pydicom.Dataset()
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid("instance", k)
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Anonymous", study.id[:16], "", ""
        ds.StudyID, ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", "", "", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = study.modality, 1, k + 1
        ds.SeriesDescription = f"{study.name} (derived from {'NIfTI' if study.source_format != 'dicom' else 'its DICOM'})"
        ds.ImageOrientationPatient = iop
        ds.ImagePositionPatient = list(image.TransformIndexToPhysicalPoint((0, 0, k)))
        ds.PixelSpacing = [image.GetSpacing()[1], image.GetSpacing()[0]]
        ds.SliceThickness = image.GetSpacing()[2]
        ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = lo, slope
        ds.PixelData = np.round((arr[k] - lo) / slope).astype(np.uint16).tobytes()
        out.append(ds)
    return out


def mask_to_dicom_seg(study: Study, mask: Mask, project: Project) -> bytes:
    return mask_to_dicom_seg_with_sources(study, mask, project)[0]


def _part10(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def mask_to_dicom_seg_with_sources(study: Study, mask: Mask, project: Project) -> tuple[bytes, list[bytes]]:
    """(the SEG, the derived image series it references when the study has no DICOM of its
    own, else []), all as Part-10 bytes: what a PACS needs to show the segmentation."""
    tmp = volumes.scratch_dir(get_settings().work / "export")
    try:
        store = get_store()
        mask_img = sitk.ReadImage(str(store.get_to_path(mask.key, tmp / "mask.nii.gz")))
        labels = sitk.GetArrayFromImage(mask_img).astype(np.uint8)  # (z, y, x), z = third voxel axis
        own = _source_from_dicom(study, tmp) if study.source_format == "dicom" else None
        if own is not None:
            sources, slice_of_frame = own
        else:
            vol = sitk.ReadImage(str(store.get_to_path(study.volume_key, tmp / "volume.nii.gz")))
            sources = _source_from_volume(vol, study)
            slice_of_frame = list(range(len(sources)))
        if len(slice_of_frame) != labels.shape[0]:
            raise ValueError(f"{len(slice_of_frame)} source slices for a mask of {labels.shape[0]} slices")
        values = sorted(int(k) for k in project.labels)
        seg_number = {v: i + 1 for i, v in enumerate(values)}  # SEG segment numbers are 1..N
        lut = np.zeros(256, np.uint8)
        for v, n in seg_number.items():
            lut[v] = n
        algo = hd.AlgorithmIdentificationSequence(
            name="ELSNet", version=f"model {mask.model_id[:12]}", family=codes.DCM.ArtificialIntelligence
        )
        descriptions = [
            hd.seg.SegmentDescription(
                segment_number=seg_number[v], segment_label=project.labels[str(v)],
                segmented_property_category=codes.SCT.Organ, segmented_property_type=codes.SCT.Organ,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algo,
            )
            for v in values
        ]
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=lut[labels[slice_of_frame]],
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
            series_instance_uid=hd.UID(), series_number=900, sop_instance_uid=hd.UID(), instance_number=1,
            manufacturer="ELSNet", manufacturer_model_name="ELSNet service", software_versions="1.0",
            device_serial_number="elsnet", series_description=f"ELSNet segmentation {mask.model_id[:8]}",
        )
        buf = io.BytesIO()
        seg.save_as(buf)
        derived = [] if own is not None else [_part10(ds) for ds in sources]
        return buf.getvalue(), derived
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
