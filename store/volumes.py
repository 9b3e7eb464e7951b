"""Volume ingestion and validation: uploads (NIfTI, one zipped DICOM series, or several DICOM
files) become one canonical NIfTI volume; annotations are checked against the study's grid.

Array convention everywhere: nibabel voxel order (i, j, k) = the file's own axes, with the
file's affine (RAS+ world, mm). The canonical volume keeps the uploaded NIfTI's affine
unchanged, so masks map back onto exactly the uploaded grid.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import nibabel as nib
import numpy as np

from dicom_geometry import SeriesError, check_series, read_series
from dicom_geometry import group_series as group_dicom_series
from store.errors import BadInput, UnreadableImage

log = logging.getLogger(__name__)

UNANNOTATED = 255
MAX_ZIP_MEMBERS = 5000


@dataclass(frozen=True)
class IngestedVolume:
    """A validated upload, written as canonical NIfTI at ``path``."""

    path: Path
    name: str
    modality: str
    source_format: str  # "nifti" | "dicom"
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    affine: list[list[float]]
    dicom_files: list[Path]
    #: for a DICOM series, a hash of its Series Instance UID and sorted SOP Instance UIDs: the
    #: same instances give the same identity however they arrived (zip, loose files, a PACS
    #: import or push, transcoded or with other file meta); None for NIfTI (hashed by bytes)
    dicom_identity: str | None = None


def sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                h.update(chunk)
    return h.hexdigest()


def _is_nifti_name(name: str) -> bool:
    n = name.lower()
    return n.endswith(".nii") or n.endswith(".nii.gz")


def _strip_ext(name: str) -> str:
    for ext in (".nii.gz", ".nii", ".zip", ".dcm"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def load_nifti(path: Path, what: str = "file") -> nib.Nifti1Image:
    """Load and fully decode a NIfTI (catches truncated/corrupt gzip). Returns a 3D image."""
    try:
        img = cast(nib.Nifti1Image, nib.load(str(path)))
        data = np.asanyarray(img.dataobj)
    except (nib.filebasedimages.ImageFileError, EOFError, OSError, gzip.BadGzipFile, ValueError) as exc:
        reason = str(exc).replace(str(path), "the file").replace(str(path.parent), "")  # no server paths
        raise UnreadableImage(
            f"{what} is not a readable NIfTI volume ({exc.__class__.__name__}: {reason}); "
            "upload an uncorrupted .nii or .nii.gz file"
        ) from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise BadInput(f"{what} has {data.ndim} dimensions {tuple(data.shape)}; a 3D volume is required")
    if min(data.shape) < 1 or data.size < 8:
        raise BadInput(f"{what} is empty (shape {tuple(data.shape)})")
    if not np.all(np.isfinite(img.affine)):
        raise BadInput(f"{what} has a non-finite affine; fix the NIfTI header (sform/qform)")
    out = nib.Nifti1Image(data, img.affine, header=img.header)
    out.set_qform(img.affine, code=1)
    out.set_sform(img.affine, code=1)
    return out


def _guess_modality(data: np.ndarray) -> str:
    # CT is in Hounsfield units: air, fat and padding are negative (even a CT clipped to an
    # abdominal window keeps values near -125); MR magnitudes are never below zero.
    return "CT" if float(np.min(data)) < -50 else "MR"


def _read_nifti_upload(path: Path, name: str, out_dir: Path, modality: str | None) -> IngestedVolume:
    img = load_nifti(path, f"'{name}'")
    data = np.asanyarray(img.dataobj)
    out = out_dir / "volume.nii.gz"
    nib.save(img, str(out))
    zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
    return IngestedVolume(
        path=out,
        name=_strip_ext(name),
        modality=(modality or _guess_modality(data)).upper(),
        source_format="nifti",
        shape=tuple(int(s) for s in data.shape[:3]),  # type: ignore[arg-type]
        spacing=zooms,  # type: ignore[arg-type]
        affine=np.asarray(img.affine, dtype=float).tolist(),
        dicom_files=[],
    )


def _extract_zip(path: Path, name: str, dest: Path, max_bytes: int) -> list[Path]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise UnreadableImage(f"'{name}' is not a valid zip archive") from exc
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise BadInput(f"'{name}' holds {len(members)} files; at most {MAX_ZIP_MEMBERS} are accepted")
        if sum(m.file_size for m in members) > max_bytes:
            raise BadInput(f"'{name}' unpacks to more than {max_bytes} bytes")
        files = []
        for i, m in enumerate(members):
            base = Path(m.filename).name
            if base.startswith(".") or "__MACOSX" in m.filename:
                continue
            target = dest / f"{i:05d}_{base}"
            with zf.open(m) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            files.append(target)
        return files


def _read_dicom_series(files: list[Path], name: str, out_dir: Path, modality: str | None) -> IngestedVolume:
    """One DICOM series (``dicom_geometry.check_series`` refuses what would be read with a
    wrong geometry; localizers are left out) as canonical NIfTI in ``out_dir``."""
    import pydicom
    import SimpleITK as sitk

    series = group_dicom_series(files)
    if not series:
        raise BadInput(f"'{name}' holds no DICOM series; upload a zip (or .dcm files) of ONE series")
    if len(series) > 1:
        raise BadInput(
            f"'{name}' holds {len(series)} DICOM series; upload one series at a time "
            f"(series UIDs: {', '.join(sorted(series))[:300]})"
        )
    (uid, series_files), = series.items()
    head = pydicom.dcmread(str(series_files[0]), stop_before_pixels=True)
    instance_uids = set()
    for f in series_files:
        ds = pydicom.dcmread(str(f), defer_size=1024)  # tags only: the pixels are read once, below
        if "PixelData" not in ds:
            raise BadInput(
                f"DICOM file '{f.name.split('_', 1)[-1]}' has no pixel data; upload the image series, "
                "not a structured report or presentation state"
            )
        instance_uids.add(str(getattr(ds, "SOPInstanceUID", "") or ""))
    try:
        geometry = check_series(series_files)  # refuses what SimpleITK would read wrong
    except SeriesError as exc:
        raise BadInput(f"'{name}': {exc}") from exc
    series_dir = out_dir / "series"
    series_dir.mkdir()
    for f in geometry.files:
        shutil.copyfile(f, series_dir / f.name)
    try:
        image = read_series(geometry)
    except RuntimeError as exc:
        raise UnreadableImage(f"could not decode the DICOM series in '{name}': {exc}") from exc
    except SeriesError as exc:
        raise UnreadableImage(f"'{name}': {exc}") from exc
    out = out_dir / "volume.nii.gz"
    sitk.WriteImage(image, str(out))  # SimpleITK converts LPS (DICOM) to the NIfTI RAS convention
    img = load_nifti(out, f"'{name}'")
    nib.save(img, str(out))
    mod = modality or str(getattr(head, "Modality", "") or "MR")
    return IngestedVolume(
        path=out,
        name=_strip_ext(name) if name else str(getattr(head, "SeriesDescription", "dicom")),
        modality=mod.upper(),
        source_format="dicom",
        shape=tuple(int(s) for s in img.shape[:3]),  # type: ignore[arg-type]
        spacing=tuple(float(z) for z in img.header.get_zooms()[:3]),  # type: ignore[arg-type]
        affine=np.asarray(img.affine, dtype=float).tolist(),
        dicom_files=[series_dir / f.name for f in geometry.files],
        dicom_identity=dicom_identity(uid, instance_uids),
    )


def series_identity(files: list[Path]) -> str | None:
    """``dicom_identity`` of one series' files from their headers alone (no pixel data read);
    None when they are not one series with every SOP Instance UID set."""
    import pydicom

    series, instances = set(), set()
    for f in files:
        ds = pydicom.dcmread(str(f), stop_before_pixels=True,
                             specific_tags=["SeriesInstanceUID", "SOPInstanceUID"])
        series.add(str(getattr(ds, "SeriesInstanceUID", "") or ""))
        instances.add(str(getattr(ds, "SOPInstanceUID", "") or ""))
    if len(series) != 1 or "" in series:
        return None
    return dicom_identity(series.pop(), instances)


def dicom_identity(series_uid: str, instance_uids: set[str]) -> str | None:
    """The identity of a DICOM series by its UIDs (see ``IngestedVolume.dicom_identity``);
    None when an instance lacks its SOP Instance UID (then only the bytes can tell)."""
    if not instance_uids or "" in instance_uids:
        return None
    text = "dicom-series\n" + series_uid + "\n" + "\n".join(sorted(instance_uids))
    return hashlib.sha256(text.encode()).hexdigest()


def ingest_upload(
    files: list[tuple[str, Path]], work: Path, *, modality: str | None = None, max_bytes: int
) -> IngestedVolume:
    """Turn uploaded files ``[(client file name, temp path)]`` into a canonical volume in ``work``."""
    if not files:
        raise BadInput("no file uploaded; send the image in the multipart field 'file'")
    if modality is not None and modality.upper() not in ("CT", "MR"):
        raise BadInput(f"modality must be CT or MR, got {modality!r}")
    names = [n for n, _ in files]
    if len(files) == 1 and _is_nifti_name(names[0]):
        return _read_nifti_upload(files[0][1], names[0], work, modality)
    if len(files) == 1 and names[0].lower().endswith(".zip"):
        extracted = work / "unzipped"
        extracted.mkdir()
        members = _extract_zip(files[0][1], names[0], extracted, max_bytes * 4)
        return _read_dicom_series(members, names[0], work, modality)
    if any(_is_nifti_name(n) or n.lower().endswith(".zip") for n in names):
        raise BadInput("send either ONE NIfTI file, ONE zip of a DICOM series, or several .dcm files")
    return _read_dicom_series([p for _, p in files], _strip_ext(names[0]), work, modality)


def validate_annotation(
    path: Path, study_shape: list[int], study_affine: list[list[float]], label_values: set[int], out: Path,
    *, what: str = "annotation", complete: bool = False,
) -> int:
    """Check a label map against its study and write it as uint8 NIfTI to ``out``.

    ``what`` names the label map in error messages; ``complete``: every voxel must be labelled
    (a reference mask), so 255 ("not annotated") is refused.
    Returns the number of annotated slices (third voxel axis) - slices with any voxel != 255.
    """
    img = load_nifti(path, f"the {what}")
    data = np.asanyarray(img.dataobj)
    if tuple(data.shape) != tuple(study_shape):
        raise BadInput(
            f"{what} shape {tuple(data.shape)} differs from the study's {tuple(study_shape)}; "
            "the label map must be on the study's own voxel grid"
        )
    aff = np.asarray(study_affine)
    if not np.allclose(img.affine, aff, atol=1e-3 * max(1.0, float(np.abs(aff[:3, :3]).max()))):
        raise BadInput(
            f"{what} geometry (affine) differs from the study's; save the label map with the "
            "study's header (same orientation, spacing and origin)"
        )
    if not np.issubdtype(data.dtype, np.integer) and not np.all(np.equal(np.mod(data, 1), 0)):
        raise BadInput(f"{what} holds non-integer values; a label map holds integers")
    values = {int(v) for v in np.unique(data)}
    allowed = set(label_values) | {0, UNANNOTATED}
    bad = sorted(values - allowed)
    if bad:
        raise BadInput(
            f"{what} holds label values {bad[:10]} that the project does not have; allowed: "
            f"0 (background), {sorted(label_values)} (project labels), 255 (not annotated)"
        )
    labels = data.astype(np.uint8)
    annotated = labels != UNANNOTATED
    if complete and not annotated.all():
        raise BadInput(
            f"{what} leaves {int((~annotated).sum())} voxels at 255 (not annotated); a {what} must label "
            "every voxel: 0 for background or an organ's label value"
        )
    if not annotated.any():
        raise BadInput(f"{what} annotates nothing (every voxel is 255 = not annotated)")
    if not (set(values) & set(label_values)):
        raise BadInput(f"{what} holds no organ label; paint at least one organ of the project")
    annotated_slices = int(annotated.any(axis=(0, 1)).sum())
    save_label_map(labels, aff, out)
    return annotated_slices


def save_label_map(labels: np.ndarray, affine: np.ndarray, out: Path) -> None:
    """Write a uint8 label map (X, Y, Z) as NIfTI with ``affine`` as both qform and sform."""
    img = nib.Nifti1Image(labels.astype(np.uint8), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_data_dtype(np.uint8)
    nib.save(img, str(out))


def scratch_dir(base: Path | None = None) -> Path:
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="elsnet-", dir=base))
