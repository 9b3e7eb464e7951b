"""The predictor's post-processing: which component of an organ is kept."""

from __future__ import annotations

import numpy as np

from elsnet_core.predictor import CONTENDER_RATIO, largest_component_per_class


def _scene(false_size: int) -> np.ndarray:
    """Liver and spleen at levels 20-29, the real kidney (class 2) beside them on 60 voxels,
    a look-alike "kidney" far below (levels 0-2) on ``false_size`` voxels (a multiple of 9)."""
    lab = np.zeros((40, 40, 32), np.uint8)
    lab[2:14, 2:14, 20:30] = 1
    lab[26:38, 2:14, 20:30] = 3
    lab[18:22, 18:21, 22:27] = 2  # 4 x 3 x 5 = 60 voxels
    lab[18:18 + false_size // 9, 30:33, 0:3] = 2  # levels 0-2, 3 wide
    return lab


def test_a_contender_near_the_other_organs_beats_a_slightly_larger_one_far_from_them():
    lab = _scene(false_size=63)  # 63 > 60: the look-alike is the largest
    plain = largest_component_per_class(lab)
    assert (plain[18:22, 18:21, 22:27] == 0).all() and (plain == 2).sum() == 63  # size alone
    kept = largest_component_per_class(lab, contenders=True)
    assert (kept[18:22, 18:21, 22:27] == 2).all() and (kept == 2).sum() == 60
    assert ((kept == 1) == (lab == 1)).all() and ((kept == 3) == (lab == 3)).all()


def test_a_clear_winner_by_size_is_kept_wherever_it_is():
    lab = _scene(false_size=126)  # the real kidney is below half of it: not a contender
    assert CONTENDER_RATIO * 126 > 60
    kept = largest_component_per_class(lab, contenders=True)
    assert (kept == 2).sum() == 126 and (kept[18:22, 18:21, 22:27] == 0).all()


def test_an_organ_alone_keeps_its_largest_component_and_fill_marks_the_rest():
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[0:3, 0:3, 0:3] = 4  # 27 voxels
    lab[6:9, 6:9, 6:8] = 4  # 18: a contender, but no other organ to place them by
    kept = largest_component_per_class(lab, fill=255, contenders=True)
    assert (kept == 4).sum() == 27 and (kept == 255).sum() == 18
