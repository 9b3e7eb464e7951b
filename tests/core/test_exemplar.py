"""Exemplar ranking puts an atypical study last; which slice to paint next."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from elsnet_core import exemplar
from elsnet_core.exemplar import rank_exemplars, suggest_next_slice
from elsnet_core.io import Volume
from tests.core.helpers import blob_case


def test_atypical_study_ranks_last():
    aff = np.diag([4.0, 4.0, 6.0, 1.0])
    vols = [Volume(blob_case(shift=(i % 2, -(i % 3)), seed=i)[0], aff) for i in range(4)]
    odd = blob_case(seed=9)[0]
    odd = np.where(odd > 500, 100.0, np.where(odd > 200, 800.0, odd)).astype(np.float32)
    vols.insert(2, Volume(odd, aff))
    ranking = rank_exemplars(vols)
    assert ranking[-1][0] == 2
    assert ranking[0][1] > ranking[-1][1] + 0.1


def test_ranking_from_files_holds_a_few_volumes_and_equals_the_ranking_from_volumes(tmp_path, monkeypatch):
    aff = np.diag([4.0, 4.0, 6.0, 1.0])
    vols = [Volume(blob_case(shift=(i % 3, -(i % 2)), seed=i)[0], aff) for i in range(6)]
    paths = []
    for i, v in enumerate(vols):
        paths.append(tmp_path / f"s{i}.nii.gz")
        nib.save(nib.Nifti1Image(v.array, v.affine), str(paths[-1]))
    loads = []
    real_load = exemplar.load_volume

    def counting_load(path):
        loads.append(path)
        return real_load(path)

    monkeypatch.setattr(exemplar, "load_volume", counting_load)  # counts the reads, reads for real
    calls = []
    from_files = rank_exemplars(paths, partners=2, progress=lambda done, total: calls.append((done, total)))
    monkeypatch.undo()
    from_volumes = rank_exemplars(vols, partners=2)
    assert [i for i, _ in from_files] == [i for i, _ in from_volumes]
    assert np.allclose([s for _, s in from_files], [s for _, s in from_volumes])
    assert calls == [(d, 12) for d in range(1, 13)]  # 6 candidates x 2 partners
    # a circular window of partners: each study read about once, not once per pair
    assert len(loads) <= 6 + 2


def _stack(areas: list[int], size: int = 20) -> np.ndarray:
    """(size, size, len(areas)) labels: slice k holds an organ of ``areas[k]`` pixels."""
    out = np.zeros((size, size, len(areas)), np.uint8)
    for k, a in enumerate(areas):
        out.reshape(-1, len(areas))[:a, k] = 1
    return out


def _painted(truth: np.ndarray, slices: list[int]) -> np.ndarray:
    lab = np.full(truth.shape, 255, np.uint8)
    lab[:, :, slices] = truth[:, :, slices]
    return lab


def test_next_slice_bisects_the_longer_unpainted_side_of_the_organs_extent():
    # organs predicted on slices 4..23 of 30; slice 8 painted: the longer side is 9..23
    pred = _stack([0] * 4 + [100] * 20 + [0] * 6)
    sug = suggest_next_slice(pred, _painted(pred, [8]), slice_mm=5.0)
    assert sug is not None and sug.organ_extent == (4, 23)
    assert sug.slice_index == (8 + 23) // 2 and sug.gap_mm == 15 * 5.0
    # painting it leaves 8..15 and 15..23 (and 4..8): the next one bisects the longest
    nxt = suggest_next_slice(pred, _painted(pred, [8, 15]), slice_mm=5.0)
    assert nxt is not None and nxt.slice_index == 19


def test_next_slice_ignores_slices_where_the_organs_fade_out():
    # tiny predicted areas (< 10 % of the painted one) beyond slice 12 are not the extent
    pred = _stack([100] * 13 + [5] * 17)
    sug = suggest_next_slice(pred, _painted(pred, [3]), slice_mm=4.0)
    assert sug is not None and sug.organ_extent == (0, 12) and sug.slice_index == 7


def test_no_next_slice_without_paint_organs_or_a_long_enough_gap():
    pred = _stack([100] * 10)
    assert suggest_next_slice(pred, np.full(pred.shape, 255, np.uint8), 5.0) is None
    assert suggest_next_slice(pred, _painted(np.zeros_like(pred), [4]), 5.0) is None
    # 10 slices of 2 mm painted at 2, 5 and 8: every stretch is < 20 mm
    assert suggest_next_slice(pred, _painted(pred, [2, 5, 8]), 2.0) is None
    with pytest.raises(ValueError, match="grid"):
        suggest_next_slice(pred[:, :, :5], _painted(pred, [2]), 2.0)
