"""A DICOM series reads into the same (X, Y, Z) array and RAS affine as its source volume; a
folder of several series, or a series with a wrong geometry, is refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from elsnet_core.errors import InvalidVolume
from elsnet_core.io import load_volume
from tests import factories as f


def _write_series(folder, array_xyz: np.ndarray, spacing, origin, direction) -> None:
    img = sitk.GetImageFromArray(np.transpose(array_xyz, (2, 1, 0)).astype(np.int16))
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(direction)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series_uid = "1.2.826.0.1.3680043.2.1125.1.42"
    dir_tag = "\\".join(f"{v:.6f}" for v in (direction[0], direction[3], direction[6],
                                              direction[1], direction[4], direction[7]))
    for k in range(img.GetDepth()):
        sl = img[:, :, k]
        pos = img.TransformIndexToPhysicalPoint((0, 0, k))
        for tag, value in [
            ("0008|0060", "MR"), ("0020|000e", series_uid), ("0020|000d", series_uid + ".0"),
            ("0008|0018", f"{series_uid}.{k + 1}"), ("0020|0013", str(k + 1)),
            ("0020|0032", "\\".join(f"{p:.6f}" for p in pos)), ("0020|0037", dir_tag),
            ("0028|0030", f"{spacing[1]:.6f}\\{spacing[0]:.6f}"), ("0018|0050", f"{spacing[2]:.6f}"),
        ]:
            sl.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(sl)


def test_dicom_series_geometry(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 1000, size=(20, 16, 5)).astype(np.int16)
    spacing = (0.8, 0.9, 3.0)
    origin = (10.0, -20.0, 30.0)
    a = np.deg2rad(15)
    direction = (np.cos(a), -np.sin(a), 0.0, np.sin(a), np.cos(a), 0.0, 0.0, 0.0, 1.0)
    _write_series(tmp_path, arr, spacing, origin, direction)
    vol = load_volume(tmp_path)
    np.testing.assert_array_equal(vol.array, arr.astype(np.float32))
    # expected RAS affine: ITK LPS geometry with the first two world axes negated
    d = np.array(direction).reshape(3, 3)
    expected = np.eye(4)
    expected[:3, :3] = d * np.array(spacing)[None]
    expected[:3, 3] = origin
    expected = np.diag([-1.0, -1.0, 1.0, 1.0]) @ expected
    np.testing.assert_allclose(vol.affine, expected, atol=1e-3)


def _folder(path: Path, parts: list[bytes]) -> Path:
    path.mkdir()
    for i, p in enumerate(parts):
        (path / f"{i:03d}.dcm").write_bytes(p)
    return path


def test_a_folder_of_two_series_is_refused_listing_them(tmp_path: Path) -> None:
    one, two = f.dicom_series(n=4), f.retag(f.dicom_series(n=3), SeriesDescription="T1 fat sat")
    folder = _folder(tmp_path / "two", one + two)
    with pytest.raises(InvalidVolume) as err:
        load_volume(folder)
    message = str(err.value)
    uids = [str(pydicom.dcmread(io.BytesIO(s[0])).SeriesInstanceUID) for s in (one, two)]
    assert "holds 2 DICOM series" in message and all(uid in message for uid in uids)
    assert "(T1 fat sat, 3 files)" in message and "(4 files)" in message


def test_a_folder_with_a_slice_missing_is_refused(tmp_path: Path) -> None:
    parts = f.dicom_series(n=5)
    with pytest.raises(InvalidVolume, match=r"between positions 3.0 and 9.0 mm \(1 slice\)"):
        load_volume(_folder(tmp_path / "gap", parts[:2] + parts[3:]))


def test_an_enhanced_multiframe_folder_reads_as_its_single_frame_series(tmp_path: Path) -> None:
    parts = f.retag(f.dicom_series(n=5, rows=16, cols=12), RescaleSlope=2, RescaleIntercept=-100)
    single = load_volume(_folder(tmp_path / "single", parts))
    enhanced = load_volume(_folder(tmp_path / "enhanced", [f.enhanced_mr(parts)]))
    np.testing.assert_array_equal(enhanced.array, single.array)
    np.testing.assert_allclose(enhanced.affine, single.affine, atol=1e-3)
    assert single.array[0, 0, 4] == 2 * 40 - 100  # slice 4 stores 40 at its first voxel
