"""DICOM ingest: what the geometry checks let through becomes the right canonical volume."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from store.errors import BadInput
from store.volumes import IngestedVolume, ingest_upload
from tests import factories as f


def _ingest(folder: Path, files: dict[str, bytes]) -> IngestedVolume:
    work = folder / "work"
    work.mkdir(parents=True)
    sent = [(name, f.write(folder / name, data)) for name, data in files.items()]
    return ingest_upload(sent, work, max_bytes=10**8)


def _voxels(vol: IngestedVolume) -> np.ndarray:
    return np.asanyarray(nib.load(str(vol.path)).dataobj)  # type: ignore[attr-defined]


def test_a_series_with_a_localizer_reads_without_it(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.80"
    scout = f.retag(f.dicom_series(n=1, rows=8, cols=8, series_uid=uid),
                    ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"],
                    ImageOrientationPatient=[0.0, 1.0, 0.0, 0.0, 0.0, -1.0], ImagePositionPatient=[0, -50, 60])
    series = f.dicom_series(n=4, series_uid=uid)
    vol = _ingest(tmp_path, {"s.zip": f.zip_of({"scout.dcm": scout[0]} | {f"{i}.dcm": b for i, b in enumerate(series)})})
    assert vol.shape == (12, 16, 4) and vol.spacing == pytest.approx((1.0, 1.0, 3.0))
    assert len(vol.dicom_files) == 4
    # slice k holds the k-th slice's pixels (arange + 10 k), columns along the first voxel axis
    data = _voxels(vol)
    assert [int(data[0, 0, k]) for k in range(4)] == [0, 10, 20, 30]


def test_an_enhanced_multiframe_upload_is_the_volume_of_its_single_frame_series(tmp_path: Path) -> None:
    series = f.retag(f.dicom_series(n=5), RescaleSlope=2, RescaleIntercept=-100)
    single = _ingest(tmp_path / "single", {"s.zip": f.zip_of({f"{i}.dcm": b for i, b in enumerate(series)})})
    enhanced = _ingest(tmp_path / "enhanced", {"enhanced.dcm": f.enhanced_mr(series)})
    assert enhanced.shape == single.shape == (12, 16, 5)
    np.testing.assert_array_equal(_voxels(enhanced), _voxels(single))
    np.testing.assert_allclose(enhanced.affine, single.affine, atol=1e-3)
    assert enhanced.source_format == "dicom" and enhanced.dicom_identity is not None


def test_a_refused_series_says_so_as_bad_input(tmp_path: Path) -> None:
    parts = f.dicom_series(n=5)
    with pytest.raises(BadInput) as err:
        _ingest(tmp_path, {"s.zip": f.zip_of({f"{i}.dcm": b for i, b in enumerate(parts) if i != 2})})
    assert err.value.detail.startswith("'s.zip': slices missing along the slice normal between positions 3.0 and 9.0")
