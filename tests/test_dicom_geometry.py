"""dicom_geometry: a DICOM series that SimpleITK would read with a wrong geometry is refused
with what to send instead; localizers are left out; an enhanced multi-frame image reads as
the same volume as its single-frame series."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from dicom_geometry import SeriesError, check_series, read_series
from tests import factories as f


def _files(tmp_path: Path, parts: list[bytes]) -> list[Path]:
    return [f.write(tmp_path / f"{i:03d}.dcm", p) for i, p in enumerate(parts)]


def _positions(zs: list[float]) -> list[tuple[float, float, float]]:
    return [(0.0, 0.0, z) for z in zs]


def test_a_complete_series_reads_in_slice_order_as_simpleitk_reads_it(tmp_path: Path) -> None:
    parts = f.dicom_series(n=5)
    files = _files(tmp_path, [parts[i] for i in (3, 0, 4, 1, 2)])  # any file order
    geometry = check_series(files)
    assert [int(fr.position[2]) for fr in geometry.frames] == [0, 3, 6, 9, 12]
    assert geometry.slice_spacing == pytest.approx(3.0) and not geometry.enhanced
    image = read_series(geometry)
    reader = sitk.ImageSeriesReader()  # what the upload did before the checks
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    before = reader.Execute()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(before))
    assert image.GetSpacing() == before.GetSpacing() and image.GetOrigin() == before.GetOrigin()
    assert image.GetDirection() == before.GetDirection()


@pytest.mark.parametrize(
    ("zs", "says"),
    [
        ([0, 3, 9, 12, 15], "slices missing along the slice normal between positions 3.0 and 9.0 mm (1 slice)"),
        ([0, 3, 6, 15, 18, 21], "between positions 6.0 and 15.0 mm (2 slices)"),
        ([0, 3, 6, 7.5, 10.5, 13.5], "slice spacing varies (min 1.50 mm, max 3.00 mm"),
    ],
)
def test_missing_or_unevenly_spaced_slices_are_refused(tmp_path: Path, zs: list[float], says: str) -> None:
    files = _files(tmp_path, f.dicom_series(n=len(zs), positions=_positions(zs)))
    with pytest.raises(SeriesError) as err:
        check_series(files)
    assert says in str(err.value) and "send every instance of the series" in str(err.value)


def test_jitter_within_the_tolerance_is_accepted(tmp_path: Path) -> None:
    files = _files(tmp_path, f.dicom_series(n=4, positions=_positions([0, 3.02, 5.99, 9.0])))
    assert check_series(files).slice_spacing == pytest.approx(3.0, abs=0.02)


@pytest.mark.parametrize(("keyword", "values"), [("TriggerTime", (0.0, 40.0)), ("EchoTime", (10.0, 80.0))])
def test_several_images_at_each_position_name_the_count_and_what_differs(
    tmp_path: Path, keyword: str, values: tuple[float, float]
) -> None:
    uid = "1.2.826.0.1.3680043.8.498.77"
    phases = [f.retag(f.dicom_series(n=4, series_uid=uid), **{keyword: v}) for v in values]
    with pytest.raises(SeriesError) as err:
        check_series(_files(tmp_path, phases[0] + phases[1]))
    message = str(err.value)
    assert "2 images at each of 4 positions" in message and "cine or multi-echo" in message
    assert f"differ in {keyword}" in message and "export one phase/echo as its own series" in message


def test_a_localizer_in_the_series_is_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    uid = "1.2.826.0.1.3680043.8.498.78"
    scout = f.retag(f.dicom_series(n=1, rows=8, cols=8, series_uid=uid),
                    ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"],
                    ImageOrientationPatient=[0.0, 1.0, 0.0, 0.0, 0.0, -1.0], ImagePositionPatient=[0, -50, 60])
    files = _files(tmp_path, scout + f.dicom_series(n=4, series_uid=uid))
    with caplog.at_level(logging.INFO, logger="dicom_geometry"):
        geometry = check_series(files)
    assert files[0] not in geometry.files and len(geometry.files) == 4
    assert "left out 1 localizer" in caplog.text


def test_two_stacks_of_other_orientation_or_size_are_refused(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.79"
    coronal = f.dicom_series(n=3, rows=8, cols=8, series_uid=uid, orientation=(1, 0, 0, 0, 0, -1),
                             positions=[(0.0, 10.0 + 3 * i, 0.0) for i in range(3)])
    with pytest.raises(SeriesError) as err:
        check_series(_files(tmp_path, f.dicom_series(n=4, series_uid=uid) + coronal))
    assert "2 image orientations" in str(err.value) and "image sizes 8x8, 16x12" in str(err.value)


def test_a_sheared_stack_names_the_gantry_tilt(tmp_path: Path) -> None:
    # CT with a 15 deg gantry tilt: each slice 3 mm further along z and 3 tan(15 deg) mm along y
    shift = 3.0 * np.tan(np.radians(15.0))
    files = _files(tmp_path, f.dicom_series(n=5, positions=[(0.0, shift * i, 3.0 * i) for i in range(5)]))
    with pytest.raises(SeriesError) as err:
        check_series(files)
    assert "gantry tilt of 15.0 deg" in str(err.value) and "without tilt" in str(err.value)


def test_a_slight_tilt_is_found_over_the_whole_stack(tmp_path: Path) -> None:
    shift = 3.0 * np.tan(np.radians(1.0))  # 0.05 mm sideways per slice: rounding-sized per step
    files = _files(tmp_path, f.dicom_series(n=12, positions=[(0.0, shift * i, 3.0 * i) for i in range(12)]))
    with pytest.raises(SeriesError, match=r"gantry tilt of 1\.0 deg"):
        check_series(files)


def test_rounded_positions_of_a_thin_oblique_stack_are_accepted(tmp_path: Path) -> None:
    # 0.5 mm slices of an oblique stack, positions written with two decimals as some scanners do
    a = np.radians(20.0)
    row, col = np.array([1.0, 0, 0]), np.array([0, np.cos(a), np.sin(a)])
    normal = np.cross(row, col)
    positions = [tuple(np.round(np.array([3.3, -7.1, 2.9]) + 0.5 * i * normal, 2)) for i in range(20)]
    geometry = check_series(_files(tmp_path, f.dicom_series(n=20, orientation=(*row, *col), positions=positions)))
    assert geometry.slice_spacing == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("n", [1, 2])
def test_fewer_than_three_slices_are_refused(tmp_path: Path, n: int) -> None:
    with pytest.raises(SeriesError, match=f"the series has {n} slice"):
        check_series(_files(tmp_path, f.dicom_series(n=n)))


def _oblique_series(n: int = 5) -> list[bytes]:
    """An oblique stack (rotated 20 deg about x) with a rescale, slices 3 mm apart along its normal."""
    a = np.radians(20.0)
    row, col = np.array([1.0, 0, 0]), np.array([0, np.cos(a), np.sin(a)])
    normal = np.cross(row, col)
    origin = np.array([-10.0, 20.0, 5.0])
    parts = f.dicom_series(n=n, orientation=(*row, *col),
                           positions=[tuple(origin + 3.0 * i * normal) for i in range(n)])
    return f.retag(parts, RescaleSlope=2, RescaleIntercept=-100)


def test_an_enhanced_multiframe_image_reads_as_its_single_frame_series(tmp_path: Path) -> None:
    # given: the same slices as single-frame files and as one enhanced image (whose frames
    # highdicom writes from the last position to the first)
    parts = _oblique_series()
    single = check_series(_files(tmp_path, parts))
    enhanced_file = f.write(tmp_path / "enhanced.dcm.bin", f.enhanced_mr(parts))
    # when
    enhanced = check_series([enhanced_file])
    a, b = read_series(single), read_series(enhanced)
    # then: same voxels (rescaled), same geometry
    assert enhanced.enhanced and len(enhanced.frames) == 5
    np.testing.assert_array_equal(sitk.GetArrayFromImage(b), sitk.GetArrayFromImage(a))
    assert sitk.GetArrayFromImage(b)[0, 0, 0] == -100  # slope 2, intercept -100 on stored 0
    np.testing.assert_allclose(b.GetOrigin(), a.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(b.GetSpacing(), a.GetSpacing(), atol=1e-3)
    np.testing.assert_allclose(b.GetDirection(), a.GetDirection(), atol=1e-3)


def test_an_enhanced_image_with_a_frame_missing_is_refused(tmp_path: Path) -> None:
    parts = _oblique_series(6)
    enhanced_file = f.write(tmp_path / "enhanced.dcm", f.enhanced_mr(parts[:2] + parts[3:]))
    with pytest.raises(SeriesError, match=r"slices missing along the slice normal between positions .* \(1 slice\)"):
        check_series([enhanced_file])
