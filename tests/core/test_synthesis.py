"""Synthesis keeps images and labels aligned; cohort transforms follow real anatomy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elsnet_core.losses import IGNORE
from elsnet_core.synthesis import (
    augment,
    cohort_bank,
    intensity_transfer,
    organ_scale_grid,
    organ_start,
    random_grid,
    reregister_from_network,
    scale_organs,
    warp_pair,
)


def _square_pair(n=4, s=48):
    image = torch.zeros(n, 3, s, s)
    label = torch.zeros(n, s, s, dtype=torch.long)
    image[:, :, 14:34, 10:30] = 1.0
    label[:, 14:34, 10:30] = 1
    return image, label


def test_warped_label_equals_label_of_warped_image():
    # given an image whose bright square IS the organ
    image, label = _square_pair()
    gen = torch.Generator().manual_seed(0)
    grid = random_grid(4, 48, gen, rotate_deg=25, scale=(0.8, 1.2), elastic=0.05)
    # when both are warped by the same random affine + elastic transform
    wimg, wlab = warp_pair(image, label, grid)
    # then thresholding the warped image gives the warped label (up to boundary pixels)
    from_image = (wimg[:, 1] > 0.5).long()
    agree = (from_image == wlab).float().mean()
    assert agree > 0.985
    # and the transform really moved the organ
    assert (wlab != label).float().mean() > 0.02
    # all channels moved identically
    assert torch.allclose(wimg[:, 0], wimg[:, 2])


def _identity_grid(n, s):
    theta = torch.eye(2, 3).repeat(n, 1, 1)
    return torch.nn.functional.affine_grid(theta, [n, 1, s, s], align_corners=True)


def test_organ_scale_resizes_one_organ_and_keeps_labels_aligned():
    # given two organs: a square (1) and a smaller square (2) far from it
    n, s = 32, 64
    image = torch.zeros(n, 1, s, s)
    label = torch.zeros(n, s, s, dtype=torch.long)
    label[:, 10:26, 10:26] = 1
    label[:, 44:52, 44:52] = 2
    image[:, 0] = label.float() / 2
    area = [(label == c).sum(dim=(1, 2)).float() for c in (1, 2)]
    # when every sample gets one organ scaled by up to 1.5x (p=1)
    gen = torch.Generator().manual_seed(1)
    grid = organ_scale_grid(_identity_grid(n, s), label, gen, max_scale=1.5, p=1.0)
    wimg, wlab = warp_pair(image, label, grid)
    # then image and label stay aligned (the image's levels name the organs)
    from_image = (wimg[:, 0] * 2).round().long()
    assert (from_image == wlab).float().mean() > 0.99
    # and no sample changed both organs; areas stay within the 1.5x (linear) bound
    ratios = [(wlab == c).sum(dim=(1, 2)).float() / a0 for c, a0 in zip((1, 2), area, strict=True)]
    moved = [(r - 1).abs() > 0.08 for r in ratios]
    assert not bool((moved[0] & moved[1]).any())
    for r in ratios:
        assert bool(((r > 1 / 1.5**2 - 0.1) & (r < 1.5**2 + 0.1)).all())
    # the scale is log-uniform, so many draws are near 1, but both organs and both
    # directions occur, and some reach far into the range
    assert bool(moved[0].any()) and bool(moved[1].any())
    both = torch.cat(ratios)
    assert float(both.max()) > 1.4 and float(both.min()) < 0.75
    assert set(torch.unique(wlab).tolist()) <= {0, 1, 2}


def test_scale_organs_scales_a_ring_by_its_outer_size():
    # given a ring (a myocardium around its cavity)
    s = 96
    yy, xx = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    r = ((yy - 48.0) ** 2 + (xx - 48.0) ** 2).sqrt()
    label = ((r >= 14) & (r < 20)).long()[None]
    # when the ring is grown by 1.3
    grid = scale_organs(_identity_grid(1, s), label, [1], torch.tensor([1.3]))
    _, wlab = warp_pair(label[:, None].float(), label, grid)
    ring = wlab[0] == 1
    # then its inner and outer radii both grow by about 1.3 (the hole stays a hole)
    assert float(r[ring].min()) == pytest.approx(14 * 1.3, abs=2.5)
    assert float(r[ring].max()) == pytest.approx(20 * 1.3, abs=2.5)
    assert not bool(ring[40:56, 40:56].any())


def test_organ_scale_off_returns_the_grid_and_ignores_unknown():
    label = torch.full((2, 32, 32), IGNORE, dtype=torch.long)
    grid = _identity_grid(2, 32)
    gen = torch.Generator().manual_seed(0)
    # an all-unknown label has no organ to scale; max_scale 1 is off
    assert torch.equal(organ_scale_grid(grid, label, gen, max_scale=1.5, p=1.0), grid)
    assert organ_scale_grid(grid, label, gen, max_scale=1.0) is grid


def test_augment_keeps_ignore_label_and_range():
    image, label = _square_pair()
    label[:, :, 40:] = IGNORE
    gen = torch.Generator().manual_seed(3)
    x, y = augment(image, label, gen, strong=True)
    assert x.min() >= 0 and x.max() <= 1
    assert set(torch.unique(y).tolist()) <= {0, 1, IGNORE}
    assert (y == IGNORE).any()


def test_intensity_transfer_moves_organ_intensity_to_target_profile():
    rng = np.random.default_rng(0)
    lab = np.zeros((4, 32, 32), np.uint8)
    lab[:, 8:20, 8:20] = 1
    ex = np.where(lab == 1, 0.8, 0.3) + 0.01 * rng.standard_normal(lab.shape)
    dst = np.where(lab == 1, 0.4, 0.3) + 0.01 * rng.standard_normal(lab.shape)
    out = intensity_transfer(ex.astype(np.float32), lab, dst.astype(np.float32), lab, 2)
    core = np.zeros_like(lab, bool)
    core[:, 11:17, 11:17] = True
    assert abs(float(out[core].mean()) - 0.4) < 0.03
    assert abs(float(out[lab == 0].mean()) - 0.3) < 0.05


def _ball_volume(center, radius=7, shape=(6, 48, 48)):
    z, y, x = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    ball = ((y - center[0]) ** 2 + (x - center[1]) ** 2) < radius**2
    ball &= (z >= 1) & (z <= shape[0] - 2)
    body = ((y - 24) ** 2 + (x - 24) ** 2) < 20**2
    img = np.where(ball, 0.9, np.where(body, 0.4, 0.0)).astype(np.float32)
    return img, ball.astype(np.uint8)


def test_cohort_bank_carries_exemplar_labels_onto_study_anatomy():
    # given an exemplar ball and a study whose ball sits elsewhere
    ex_img, ex_lab = _ball_volume((20, 20))
    st_img, st_lab = _ball_volume((27, 26))
    # when the exemplar is registered to the study and synthesised there
    samples, propagated = cohort_bank(
        ex_img, ex_lab, [st_img], [(2.0, 2.0, 5.0)], (2.0, 2.0, 5.0), 2,
        np.random.default_rng(0), iterations=10, coarse_mm=4.0, styles_per_target=1)
    # then the propagated label overlaps the study's ball well, and the synthetic image is
    # bright exactly where its label says "organ"
    prop = propagated[0] == 1
    dice = 2 * (prop & (st_lab == 1)).sum() / (prop.sum() + (st_lab == 1).sum())
    before = 2 * (ex_lab & st_lab).sum() / (ex_lab.sum() + st_lab.sum())
    assert dice > 0.55 and dice > before + 0.3, (before, dice)
    s = samples[0]
    assert s.image.shape == st_img.shape and s.label.shape == st_img.shape
    assert s.image[s.label == 1].mean() > s.image[(s.label == 0) & (st_img > 0.2)].mean() + 0.05


def test_cohort_bank_makes_the_asked_number_of_samples_per_study_even_for_a_small_cohort():
    # given an exemplar and two studies, and more samples asked per study than there are
    # other members to borrow an appearance from
    ex_img, ex_lab = _ball_volume((20, 20))
    studies = [_ball_volume((27, 26))[0], _ball_volume((18, 25))[0]]
    # when the bank is built with 3 samples per study
    samples, propagated = cohort_bank(
        ex_img, ex_lab, studies, [(2.0, 2.0, 5.0)] * 2, (2.0, 2.0, 5.0), 2,
        np.random.default_rng(0), iterations=5, coarse_mm=4.0, styles_per_target=3)
    # then every study gets 3 samples: its own deformation in its own appearance first, then
    # the other member's appearance reused; the first sample's label is the propagated one
    assert len(propagated) == 2
    for j in range(2):
        mine = [s for s in samples if s.target == j]
        assert [s.style for s in mine] == [j, 1 - j, 1 - j]
        np.testing.assert_array_equal(mine[0].label, propagated[j])
        assert all(s.image.shape == studies[j].shape for s in mine)


def test_organ_start_is_the_median_shift_of_the_shared_organs():
    # given three organs shifted alike (in mm) between a 2 mm and a 1 mm grid, a fourth organ
    # the "network" put far away, an organ only one map holds, and unknown voxels
    fixed = np.zeros((20, 20, 20), np.uint8)
    moving = np.zeros((64, 64, 64), np.uint8)
    d = np.array([12, 4, 20])
    for c, (x, y, z) in {1: (3, 3, 3), 2: (10, 4, 6), 3: (5, 12, 9)}.items():
        fixed[x:x + 4, y:y + 4, z:z + 4] = c  # centre 2 * x + 3 mm
        mx, my, mz = 2 * np.array([x, y, z]) + d
        moving[mx:mx + 8, my:my + 8, mz:mz + 8] = c  # centre 2 * x + d + 3.5 mm
    fixed[15:19, 15:19, 15:19] = 4
    moving[0:8, 0:8, 0:8] = 4
    moving[50:58, 50:58, 50:58] = 5
    fixed[0:2, 0:2, 0:2] = IGNORE
    # when the start is computed
    start = organ_start(fixed, moving, (2.0, 2.0, 2.0), (1.0, 1.0, 1.0))
    # then it is the three organs' common shift, moving centre - fixed centre in mm: the
    # misplaced fourth organ does not move it
    assert start is not None
    np.testing.assert_allclose(start, d + 0.5)
    # no organ shared: no start
    assert organ_start(fixed, np.where(moving == 5, 5, 0).astype(np.uint8),
                       (2.0, 2.0, 2.0), (1.0, 1.0, 1.0)) is None


def _long_scan(n_slices: int, organ_slices: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(Z, 48, 48): a body tube over every slice, a bright ball-like organ on a few slices."""
    z, y, x = np.meshgrid(np.arange(n_slices), np.arange(48), np.arange(48), indexing="ij")
    body = ((y - 24) ** 2 + (x - 24) ** 2) < 20**2
    organ = (((y - 20) ** 2 + (x - 22) ** 2) < 7**2) & (z >= organ_slices[0]) & (
        z < organ_slices[1])
    img = np.where(organ, 0.9, np.where(body, 0.4 + 0.01 * (z % 3), 0.0)).astype(np.float32)
    return img, organ.astype(np.uint8)


def test_reregistration_from_the_network_organs_finds_a_study_the_moments_start_misplaces():
    # given an exemplar covering a long range (40 slices) with its organ near one end, and a
    # study covering only the organ's region (12 slices): image moments put the study at the
    # exemplar's middle, ~100 mm from the organ
    ex_img, ex_lab = _long_scan(40, (29, 36))
    st_img, st_lab = _long_scan(12, (3, 10))
    sp = (2.0, 2.0, 5.0)
    _, propagated = cohort_bank(ex_img, ex_lab, [st_img], [sp], sp, 2,
                                np.random.default_rng(0), iterations=10, coarse_mm=4.0,
                                styles_per_target=1)

    def dice(a: np.ndarray) -> float:
        return float(2 * ((a == 1) & (st_lab == 1)).sum() / ((a == 1).sum() + st_lab.sum()))

    # when it is registered again from where a network found the organ in the study
    again = reregister_from_network(ex_img, ex_lab, st_img, st_lab, sp, sp, iterations=10,
                                    coarse_mm=4.0)
    # then the exemplar's organ lands on the study's organ, which the first registration missed
    assert again is not None and again.shape == st_img.shape
    assert dice(again) > 0.7 and dice(again) > dice(propagated[0]) + 0.3, (
        dice(propagated[0]), dice(again))
    # and a network that found no organ gives no start
    assert reregister_from_network(ex_img, ex_lab, st_img, np.zeros_like(st_lab), sp, sp) is None
