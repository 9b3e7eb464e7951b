"""Protocol metrics on hand-computable label maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from elsnet_core.metrics import (
    SYNAPSE_8_ORGANS,
    CaseScores,
    aggregate,
    dice,
    evaluate_case,
    hd95,
    pooled_dice,
)


def test_dice_hand_computed() -> None:
    a = np.zeros((4, 4, 4), bool)
    b = np.zeros((4, 4, 4), bool)
    a[0, 0, :4] = True  # 4 voxels
    b[0, 0, 2:4] = True  # 2 voxels, both inside a
    assert dice(a, b) == pytest.approx(2 * 2 / 6)
    assert dice(a, a) == 1.0
    assert dice(np.zeros_like(a), np.zeros_like(a)) is None
    assert dice(a, np.zeros_like(a)) == 0.0


def test_pooled_dice_counts_annotated_voxels_only_and_pools_studies() -> None:
    truth = np.full((4, 4, 2), 255, np.uint8)  # one painted slice
    truth[:, :, 0] = 0
    truth[0:2, 0:2, 0] = 1  # 4 voxels of class 1
    truth[3, 3, 0] = 2  # 1 voxel of class 2
    pred = np.zeros_like(truth)
    pred[0:2, 0:2, :] = 1  # right on the painted slice, and 4 voxels on the unpainted one
    got = pooled_dice([(pred, truth)], 3)
    assert got == {1: 1.0, 2: 0.0}  # the unpainted slice does not count; missed class 2 is 0
    # a second study: class 1 half right (2 of 4 predicted, 0 false positives)
    pred2 = np.zeros_like(truth)
    pred2[0:2, 0, 0] = 1
    got2 = pooled_dice([(pred, truth), (pred2, truth)], 3)
    assert got2[1] == pytest.approx(2 * (4 + 2) / ((4 + 4) + (2 + 4)))
    # a class no truth holds is left out, not scored 0
    assert 3 not in pooled_dice([(pred, truth)], 4)
    with pytest.raises(ValueError, match="shape"):
        pooled_dice([(pred[:, :, :1], truth)], 3)


def test_evaluate_case_skips_absent_and_zeroes_one_sided() -> None:
    truth = np.zeros((6, 6, 3), np.uint8)
    pred = np.zeros_like(truth)
    truth[0:2, 0:2, 0] = 1  # class 1: 4 voxels, predicted exactly
    pred[0:2, 0:2, 0] = 1
    truth[4, 4, 2] = 2  # class 2 only in truth -> 0
    pred[3, 0, 1] = 3  # class 3 only in prediction -> 0; class 4 absent from both -> skipped
    s = evaluate_case(pred, truth, (1.0, 1.0, 2.0), [1, 2, 3, 4])
    assert s.dice == {1: 1.0, 2: 0.0, 3: 0.0, 4: None}
    assert s.hd95[1] == 0.0 and s.hd95[4] is None
    assert math.isinf(s.hd95[2]) and math.isinf(s.hd95[3])


def test_hd95_uses_spacing() -> None:
    # two single-voxel "organs" 3 voxels apart along Z with 2.5 mm slices -> 7.5 mm
    a = np.zeros((5, 5, 8), bool)
    b = np.zeros_like(a)
    a[2, 2, 1] = True
    b[2, 2, 4] = True
    assert hd95(a, b, (1.0, 1.0, 2.5)) == pytest.approx(7.5)
    # the same along X with 0.8 mm pixels -> 2.4 mm
    a2 = np.zeros((8, 5, 5), bool)
    b2 = np.zeros_like(a2)
    a2[1, 2, 2] = True
    b2[4, 2, 2] = True
    assert hd95(a2, b2, (0.8, 1.0, 2.5)) == pytest.approx(2.4)


def test_hd95_shifted_cube() -> None:
    # a 6^3 cube and the same cube shifted by 2 voxels along X (1 mm): surface distances are
    # 0 on the faces that overlap the other's surface set, up to 2 mm on the shifted faces
    a = np.zeros((14, 10, 10), bool)
    a[2:8, 2:8, 2:8] = True
    b = np.roll(a, 2, axis=0)
    h = hd95(a, b, (1.0, 1.0, 1.0))
    assert h is not None and 1.0 <= h <= 2.0
    assert hd95(a, a, (1.0, 1.0, 1.0)) == 0.0


def test_aggregate_per_class_over_cases_then_mean_over_classes() -> None:
    names = {1: "liver", 2: "spleen", 3: "pancreas"}
    cases = [
        CaseScores("a", {1: 1.0, 2: 0.5, 3: None}, {1: 1.0, 2: 3.0, 3: None}),
        CaseScores("b", {1: 0.5, 2: None, 3: 0.0}, {1: 2.0, 2: None, 3: math.inf}),
    ]
    agg = aggregate(cases, names, subset=("liver", "spleen", "stomach"))
    assert agg["dice"] == {"liver": 0.75, "spleen": 0.5, "pancreas": 0.0}
    # mean over classes (0.75 + 0.5 + 0.0) / 3, NOT over all 4 scored (case, class) pairs
    assert agg["mean_dice"] == pytest.approx(1.25 / 3)
    assert agg["subset_mean_dice"] == pytest.approx(0.625)  # stomach absent -> ignored
    assert agg["hd95"] == {"liver": 1.5, "spleen": 3.0, "pancreas": None}
    assert agg["hd95_missing"] == {"liver": 0, "spleen": 0, "pancreas": 1}
    assert agg["n_cases"] == 2


def test_synapse_8_organs_are_the_standard_subset() -> None:
    assert len(SYNAPSE_8_ORGANS) == 8
    assert set(SYNAPSE_8_ORGANS) == {
        "spleen",
        "kidney_right",
        "kidney_left",
        "gallbladder",
        "liver",
        "stomach",
        "aorta",
        "pancreas",
    }
