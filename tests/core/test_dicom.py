"""A DICOM series reads into the same (X, Y, Z) array and RAS affine as its source volume."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from elsnet_core.io import load_volume


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
