"""Reading volumes (NIfTI, DICOM series) and writing label maps, geometry kept.

Convention everywhere in elsnet_core: arrays are in nibabel voxel order ``(X, Y, Z)`` where
Z is the third voxel axis, i.e. the acquisition's slice axis; the 4x4 ``affine`` maps voxel
indices to RAS+ world millimetres (NIfTI convention). Nothing is reoriented on read, so an
oblique acquisition is kept on its own grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.spatialimages import SpatialImage

from elsnet_core.errors import InvalidExemplar, InvalidVolume

log = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True)
class Volume:
    """A 3D image on its own grid.

    array: (X, Y, Z) float32, nibabel voxel order; affine: (4, 4) float64 voxel -> RAS+ mm.
    """

    array: np.ndarray
    affine: np.ndarray

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along (X, Y, Z)."""
        s = np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))
        return float(s[0]), float(s[1]), float(s[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def _squeeze_3d(data: np.ndarray, path: Path) -> np.ndarray:
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InvalidVolume(f"{path.name}: expected a 3D volume, got shape {data.shape}")
    if min(data.shape) < 1 or data.shape[0] < 8 or data.shape[1] < 8:
        raise InvalidVolume(f"{path.name}: volume too small ({data.shape})")
    return data


def _read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj)  # type: ignore[attr-defined]
    except Exception as exc:  # nibabel raises many types for broken files
        raise InvalidVolume(f"{path.name}: cannot read NIfTI ({exc})") from exc
    if not isinstance(img, SpatialImage):  # what nibabel reads also holds non-images
        raise InvalidVolume(f"{path.name}: not an image volume ({type(img).__name__})")
    return _squeeze_3d(data, path), np.asarray(img.affine, dtype=np.float64)


def _read_dicom_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The one DICOM series in folder ``path`` (its files, not its subfolders), checked by
    ``dicom_geometry.check_series``: a folder of several series, or a series SimpleITK would
    read with a wrong geometry, is refused."""
    import pydicom
    import SimpleITK as sitk

    from dicom_geometry import SeriesError, check_series, group_series, read_series

    series = group_series(sorted(p for p in path.iterdir() if p.is_file()))
    if not series:
        raise InvalidVolume(f"{path}: no DICOM series found")
    if len(series) > 1:
        listed = []
        for uid, files in sorted(series.items()):
            head = pydicom.dcmread(str(files[0]), stop_before_pixels=True, specific_tags=["SeriesDescription"])
            what = str(getattr(head, "SeriesDescription", "") or "").strip()
            listed.append(f"{uid} ({what + ', ' if what else ''}{len(files)} files)")
        raise InvalidVolume(
            f"{path} holds {len(series)} DICOM series: {'; '.join(listed)}; put each series in a "
            "folder of its own and give the one to read"
        )
    (files,) = series.values()
    try:
        image = read_series(check_series(files))
    except SeriesError as exc:
        raise InvalidVolume(f"{path}: {exc}") from exc
    except RuntimeError as exc:
        raise InvalidVolume(f"{path}: cannot read DICOM series ({exc})") from exc
    data = np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0))  # (Z,Y,X) -> (X,Y,Z)
    return _squeeze_3d(data, path), sitk_affine(image)


def sitk_affine(image) -> np.ndarray:
    """RAS+ 4x4 affine of a SimpleITK image (ITK uses LPS+)."""
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    spacing = np.asarray(image.GetSpacing(), dtype=np.float64)
    origin = np.asarray(image.GetOrigin(), dtype=np.float64)
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing[None, :]
    affine[:3, 3] = origin
    lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    return lps_to_ras @ affine


def load_volume(path: str | Path) -> Volume:
    """Read a NIfTI file or a DICOM series folder into a float32 (X, Y, Z) Volume."""
    path = Path(path)
    if not path.exists():
        raise InvalidVolume(f"{path}: no such file or folder")
    if path.is_dir():
        data, affine = _read_dicom_series(path)
    elif is_nifti(path):
        data, affine = _read_nifti(path)
    else:
        raise InvalidVolume(f"{path.name}: unsupported format (use .nii, .nii.gz or a DICOM folder)")
    array = np.asarray(data, dtype=np.float32)
    if not np.isfinite(array).all():
        array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise InvalidVolume(f"{path.name}: degenerate affine")
    return Volume(array=np.ascontiguousarray(array), affine=affine)


def load_label(path: str | Path, image: Volume) -> np.ndarray:
    """Read a label map for ``image``: (X, Y, Z) uint8, 0 background, 1..K, 255 unknown.

    Raises ``InvalidExemplar`` when shape/affine disagree with the image or values are bad.
    """
    path = Path(path)
    try:
        vol = load_volume(path)
    except InvalidVolume as exc:
        raise InvalidExemplar(str(exc)) from exc
    if vol.shape != image.shape:
        raise InvalidExemplar(
            f"{path.name}: label shape {vol.shape} differs from its image {image.shape}"
        )
    if not np.allclose(vol.affine, image.affine, atol=1e-3, rtol=1e-4):
        # the label's voxel (i, j, k) in the image's voxel coordinates: identity = same grid
        to_image = np.linalg.solve(image.affine, vol.affine)
        if (np.abs(to_image[:3, :3] - np.eye(3)).max() > 0.01
                or np.abs(to_image[:3, 3]).max() > 0.5):
            raise InvalidExemplar(
                f"{path.name}: the label map lies on another grid than its image (its affine "
                "is flipped, rotated, rescaled or shifted by half a voxel or more); save the "
                "label with the image's header (same orientation, spacing and origin)"
            )
        log.warning("%s: label affine differs slightly from its image; using the image's", path)
    data = vol.array
    if (data < 0).any() or (data > 255).any() or not np.array_equal(data, np.round(data)):
        raise InvalidExemplar(f"{path.name}: label values must be integers in 0..255")
    labels = data.astype(np.uint8)
    organ = labels[(labels > 0) & (labels < 255)]
    if organ.size == 0:
        raise InvalidExemplar(f"{path.name}: the label map annotates no organ (values 1..254)")
    return labels


def save_labels(path: str | Path, labels: np.ndarray, affine: np.ndarray) -> Path:
    """Write a uint8 (X, Y, Z) label map as NIfTI with the given affine."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.asarray(labels, dtype=np.uint8), np.asarray(affine, dtype=np.float64))
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, str(path))
    return path
