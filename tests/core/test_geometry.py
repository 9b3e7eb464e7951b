"""Geometry: predictions land on exactly the input grid; I/O keeps the affine."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
import torch

from elsnet_core.artifact import Plan, save_model
from elsnet_core.config import make_config
from elsnet_core.errors import InvalidExemplar
from elsnet_core.io import load_label, load_volume, save_labels, sitk_affine
from elsnet_core.model import build_elsnet
from elsnet_core.predictor import Predictor
from elsnet_core.preprocess import Canon, WorkingGrid, normalize_intensity, plan_field_of_view
from tests.core.helpers import blob_case, oblique_affine, write_case


def test_nifti_read_keeps_array_and_affine(tmp_path):
    # given a volume with an oblique, flipped, anisotropic affine
    image, label = blob_case()
    aff = oblique_affine()
    ip, lp = write_case(tmp_path, "a", image, label, aff)
    # when read back
    vol = load_volume(ip)
    lab = load_label(lp, vol)
    # then voxel data and geometry are untouched
    np.testing.assert_array_equal(vol.array, image)
    np.testing.assert_allclose(vol.affine, aff, atol=1e-5)
    np.testing.assert_array_equal(lab, label)
    np.testing.assert_allclose(vol.spacing, (1.5, 1.2, 4.0), atol=1e-5)


def test_label_on_another_grid_is_rejected_and_header_noise_is_not(tmp_path):
    image, label = blob_case()
    aff = oblique_affine()
    ip, _ = write_case(tmp_path, "img", image, None, aff)
    vol = load_volume(ip)
    flipped = aff @ np.diag([-1.0, 1.0, 1.0, 1.0])  # same shape, first axis reversed
    flipped[:3, 3] = aff[:3, :3] @ np.array([image.shape[0] - 1, 0, 0]) + aff[:3, 3]
    shifted = aff.copy()
    shifted[:3, 3] += aff[:3, :3] @ np.array([0.0, 0.0, 0.7])  # 0.7 voxel along the slices
    for name, bad in (("flipped", flipped), ("shifted", shifted)):
        nib.save(nib.Nifti1Image(label, bad), tmp_path / f"{name}.nii.gz")
        with pytest.raises(InvalidExemplar, match="another grid than its image"):
            load_label(tmp_path / f"{name}.nii.gz", vol)
    noisy = aff.copy()
    noisy[:3, 3] += aff[:3, :3] @ np.array([0.0, 0.0, 0.01])  # float header rounding
    nib.save(nib.Nifti1Image(label, noisy), tmp_path / "noisy.nii.gz")
    np.testing.assert_array_equal(load_label(tmp_path / "noisy.nii.gz", vol), label)


def test_sitk_affine_matches_nibabel(tmp_path):
    image, _ = blob_case()
    aff = oblique_affine()
    ip, _ = write_case(tmp_path, "a", image, None, aff)
    np.testing.assert_allclose(sitk_affine(sitk.ReadImage(str(ip))), aff, atol=1e-4)


def test_label_round_trip_through_working_grid():
    # given a label map on an oblique grid and a working grid at the native pixel size whose
    # pixel centres fall on voxel centres (so nearest/bilinear sampling is exact)
    image, label = blob_case(shape=(40, 36, 6))
    aff = oblique_affine(spacing=(1.5, 1.5, 4.0))
    planned = WorkingGrid.plan(aff, image.shape, normalize_intensity(image, "MR"), 64, 1.5)
    assert planned.step == (1.0, 1.0)
    grid = WorkingGrid(planned.shape, planned.canon, (20.5, 17.5), (1.0, 1.0), 64, 1.5)
    # when labels go to the working grid as one-hot probabilities and come back
    work = grid.to_working(label.astype(np.float32), nearest=True)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(work).long(), 3).permute(0, 3, 1, 2)
    back, conf = grid.probs_to_original(onehot.float())
    # then the original label map is recovered exactly, on the original shape
    assert back.shape == label.shape
    np.testing.assert_array_equal(back, label)
    assert conf.shape == label.shape
    # a label map with "not annotated" (255) and gaps in its values comes back the same way
    sparse = np.where(label == 2, 7, label).astype(np.uint8)
    sparse[:, :, 0] = 255
    work = grid.to_working(sparse.astype(np.float32), nearest=True, fill=255)
    np.testing.assert_array_equal(grid.labels_to_original(work.round().astype(np.uint8)), sparse)


def test_labels_outside_the_working_window_are_filled():
    image, label = blob_case(shape=(40, 36, 6))
    aff = oblique_affine(spacing=(1.5, 1.5, 4.0))
    # a 16-pixel window at the native pixel size, pixel centres on voxel centres, sees only
    # the middle of the study
    planned = WorkingGrid.plan(aff, image.shape, normalize_intensity(image, "MR"), 16, 1.5)
    grid = WorkingGrid(planned.shape, planned.canon, (20.5, 17.5), (1.0, 1.0), 16, 1.5)
    work = grid.to_working(label.astype(np.float32), nearest=True).round().astype(np.uint8)
    back = grid.labels_to_original(work, fill=255)
    assert back.shape == label.shape
    inside = back != 255
    assert 0 < inside.mean() < 0.5
    np.testing.assert_array_equal(back[inside], label[inside])


def test_canon_inverse_is_exact():
    a = np.arange(5 * 7 * 2).reshape(5, 7, 2)
    for t in (False, True):
        for f0 in (False, True):
            for f1 in (False, True):
                c = Canon(t, f0, f1)
                np.testing.assert_array_equal(c.inverse(c.forward(a)), a)


def _untrained_model_dir(tmp_path, n_classes=3):
    cfg = make_config("tiny")
    torch.manual_seed(0)
    model = build_elsnet(cfg, n_classes)
    plan = Plan(modality="MR", pixel_mm=1.7, n_classes=n_classes)
    return save_model(tmp_path / "model", model, cfg, plan, {1: "a", 2: "b"}, {}, seed=0)


def test_prediction_geometry_equals_input_geometry(tmp_path):
    # given a model and a study whose grid is oblique, anisotropic and not square
    model_dir = _untrained_model_dir(tmp_path)
    image, _ = blob_case(shape=(45, 31, 7))
    aff = oblique_affine(spacing=(0.9, 1.3, 5.0), angle_deg=-33)
    ip, _ = write_case(tmp_path, "study", image, None, aff)
    # when predicting from the file and saving the label map
    pred = Predictor.load(model_dir, device="cpu").predict_file(ip)
    out = save_labels(tmp_path / "pred.nii.gz", pred.labels, pred.affine)
    # then the prediction has exactly the input's shape and affine, also once written
    assert pred.labels.shape == image.shape and pred.labels.dtype == np.uint8
    np.testing.assert_allclose(pred.affine, aff)
    written = nib.load(str(out))
    assert written.shape == image.shape
    np.testing.assert_allclose(written.affine, nib.load(str(ip)).affine, atol=1e-6)
    assert 0.0 <= pred.confidence <= 1.0


def test_field_of_view_narrows_to_small_organs_and_follows_them():
    # given a large body with one small organ off-centre (like the heart in a chest MR)
    shape = (120, 120, 4)
    x, y, _ = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    body = ((x - 60) ** 2 + (y - 60) ** 2) < 55**2
    organ = ((x - 75) ** 2 + (y - 50) ** 2) < 8**2
    norm = np.where(body, 0.5, 0.0).astype(np.float32)
    label = organ.astype(np.uint8)
    aff = np.diag([2.0, 2.0, 8.0, 1.0])
    pixel_mm, offset = plan_field_of_view(norm, label, aff, size=64, margin=1.1)
    # then the window is narrower than the body and centred towards the organ
    assert pixel_mm * 64 < 110 * 2.0
    assert offset[0] == pytest.approx(15 * 2.0, abs=2.5) and offset[1] == pytest.approx(-10 * 2.0, abs=2.5)
    grid = WorkingGrid.plan(aff, shape, norm, 64, pixel_mm, offset)
    work = grid.to_working(label.astype(np.float32), nearest=True)
    assert work.sum() == pytest.approx(label.sum() * (2.0 / pixel_mm) ** 2, rel=0.15)
    # an organ filling the body leaves the body-based field of view
    big, _ = plan_field_of_view(norm, body.astype(np.uint8), aff, size=64, margin=1.1)
    assert big * 64 == pytest.approx(111 * 2.0 * 1.1, rel=0.05)
