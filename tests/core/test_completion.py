"""Random-walk completion of a slice exemplar (elsnet_core.completion)."""

import json

import nibabel as nib
import numpy as np
import pytest

from elsnet_core.bench import slice_setting_label
from elsnet_core.completion import CompletionSettings, complete_label
from elsnet_core.config import make_config
from elsnet_core.losses import IGNORE
from elsnet_core.metrics import dice as _dice
from elsnet_core.preprocess import normalize_intensity
from tests.core.helpers import CHAOS


def _phantom(depth: int = 11, size: int = 40):
    """A bright ball-ish organ (class 1) on slices 2-8 and a dim bar (class 3) on 0-10, in a
    mid-grey body; class 2 does not exist (label values need not be consecutive)."""
    yy, xx = np.mgrid[:size, :size]
    img = np.full((depth, size, size), 0.3, np.float32)
    lab = np.zeros((depth, size, size), np.uint8)
    for z in range(depth):
        r = 9 - 2 * abs(z - 5)  # the organ shrinks away from slice 5 and ends
        if r > 0:
            organ = (yy - 14) ** 2 + (xx - 14) ** 2 <= r ** 2
            img[z][organ], lab[z][organ] = 0.9, 1
        bar = (abs(yy - 30) <= 3) & (abs(xx - 28) <= 6)
        img[z][bar], lab[z][bar] = 0.05, 3
    return img, lab


def _one_slice(lab: np.ndarray, z: int) -> np.ndarray:
    out = np.full(lab.shape, IGNORE, np.uint8)
    out[z] = lab[z]
    return out


def test_completion_follows_edges_and_ends_organs_where_the_image_does():
    img, truth = _phantom()
    painted = _one_slice(truth, 5)
    out = complete_label(img, painted, (5.0, 1.0, 1.0))
    assert np.array_equal(out[5], truth[5])  # painted voxels stay as painted
    known = out != IGNORE
    assert known.mean() > 0.9  # the walk is sure of almost every voxel here
    # wherever it is sure, it is right: the organ ends where the bright ball ends, the
    # slices beyond it are background (the negative evidence a one-slice model lacks)
    assert (out[known] == truth[known]).mean() > 0.98
    assert (out[0] == 1).sum() == 0 and (out[10] == 1).sum() == 0
    assert _dice(out == 1, truth == 1) > 0.9
    assert _dice(out == 3, truth == 3) > 0.9  # a class value with a gap below it (no 2)


def test_background_only_completion_keeps_no_unpainted_organ_voxel():
    img, truth = _phantom()
    painted = _one_slice(truth, 5)
    full = complete_label(img, painted, (5.0, 1.0, 1.0))
    bg_only = complete_label(img, painted, (5.0, 1.0, 1.0), CompletionSettings(organs=False))
    assert np.array_equal(bg_only[5], truth[5])
    rest = np.ones(truth.shape, bool)
    rest[5] = False
    assert set(np.unique(bg_only[rest]).tolist()) == {0, IGNORE}
    assert (full[rest] == 1).any()  # the full walk did label the organ off the painted slice
    # the same background; everything else off the painted slice unknown
    assert np.array_equal(bg_only == 0, full == 0)
    assert np.array_equal(bg_only[rest] == IGNORE, full[rest] != 0)


def test_a_large_problem_walks_on_a_coarser_grid_and_stays_right_where_sure():
    img, truth = _phantom(size=41)  # odd size: the coarse grid pads its last block
    painted = _one_slice(truth, 5)
    budget = truth.size * 4 / 3 / 2  # 4 labels present (0, 1, 3 + the walk's) -> step 2
    out = complete_label(img, painted, (5.0, 1.0, 1.0),
                         CompletionSettings(max_label_voxels=budget, refine=False))
    assert out.shape == truth.shape and np.array_equal(out[5], truth[5])
    known = out != IGNORE
    assert 0.6 < known.mean() < 1.0  # block boundaries became unsure, the rest did not
    assert (out[known] == truth[known]).mean() > 0.98
    # the organ's core wherever it is a few blocks wide (radius 7 px on slices 4 and 6;
    # a block boundary band is unsure, so the thin ends of this small organ are not)
    for z in (4, 6):
        assert (out[z] == 1).sum() > 0.4 * (truth[z] == 1).sum(), z
    assert (out[0] == 1).sum() == 0 and (out[10] == 1).sum() == 0


def test_the_refining_walk_recovers_a_structure_thinner_than_the_coarse_grid():
    """A 2-pixel vessel (class 2) beside the organ: blocks of 3 x 3 pixels average it away,
    so the coarse walk alone loses it off the painted slice; walking again at full
    resolution, seeded by the coarse walk's sure voxels, follows it (the synapse_ct case:
    aorta, veins, adrenals on a CT too long to walk at full resolution)."""
    img, truth = _phantom(size=42)
    vessel = np.zeros(truth.shape[1:], bool)
    vessel[4:38, 30:32] = True
    img[:, vessel], truth[:, vessel] = 0.95, 2
    painted = _one_slice(truth, 5)
    budget = truth.size * 4 / 9 / 2  # 4 labels (0, 1, 2, 3) -> step 3
    coarse = complete_label(img, painted, (5.0, 1.0, 1.0),
                            CompletionSettings(max_label_voxels=budget, refine=False))
    refined = complete_label(img, painted, (5.0, 1.0, 1.0),
                             CompletionSettings(max_label_voxels=budget))
    full = complete_label(img, painted, (5.0, 1.0, 1.0))
    rest = np.ones(truth.shape, bool)
    rest[5] = False

    def found(out):  # share of the vessel off the painted slice labelled as the vessel
        return float((out[rest & (truth == 2)] == 2).mean())
    assert found(full) > 0.9
    assert found(refined) > 0.9 > found(coarse) + 0.3, (found(refined), found(coarse))
    for out in (coarse, refined):
        assert np.array_equal(out[5], truth[5])
    # the coarse walk alone calls the vessel confidently by another name; refined, the
    # voxels it is sure of are right
    assert (coarse[rest & (truth == 2)] == IGNORE).mean() < 0.5
    known = refined != IGNORE
    assert (refined[known] == truth[known]).mean() > 0.98


def test_uncertain_voxels_stay_unannotated():
    # no edge anywhere (faint noise only): far from the painted slice, organ and background
    # are about equally likely, so a strict threshold leaves those voxels 255
    img = 0.5 + 0.01 * np.random.default_rng(0).standard_normal((15, 24, 24)).astype(np.float32)
    painted = np.full(img.shape, IGNORE, np.uint8)
    painted[7] = 0
    painted[7, :, :12] = 1
    out = complete_label(img, painted, (3.0, 1.0, 1.0), CompletionSettings(threshold=0.99))
    assert np.array_equal(out[7], painted[7])
    assert (out[0] == IGNORE).mean() > 0.5 and (out[14] == IGNORE).mean() > 0.5


def test_nothing_to_walk_between_returns_the_label_unchanged():
    img, truth = _phantom()
    organ_only = np.full(truth.shape, IGNORE, np.uint8)
    organ_only[5][truth[5] == 1] = 1  # organ painted, no background painted
    out = complete_label(img, organ_only, (5.0, 1.0, 1.0))
    assert np.array_equal(out, organ_only) and out is not organ_only
    blank = complete_label(np.zeros_like(img), _one_slice(truth, 5), (5.0, 1.0, 1.0))
    assert np.array_equal(blank, _one_slice(truth, 5))  # a uniform image: no edges


@pytest.mark.skipif(not (CHAOS / "dataset.json").exists(),
                    reason=f"real CHAOS data not found at {CHAOS}")
def test_one_painted_chaos_slice_completes_to_most_of_the_real_organs():
    """The protocol's slice of the first real CHAOS case, completed at the fit's settings on
    about the working resolution, against that case's expert label (no training)."""
    case = sorted(json.loads((CHAOS / "dataset.json").read_text())["cases"])[0]
    im = nib.load(str(CHAOS / "images" / f"{case}.nii.gz"))
    truth = np.asarray(nib.load(str(CHAOS / "labels" / f"{case}.nii.gz")).dataobj)
    truth = truth[::2, ::2].astype(np.uint8).transpose(2, 0, 1)  # (Z, H, W), 2x pixels
    img = normalize_intensity(np.asarray(im.dataobj, np.float32), "MR")[::2, ::2]
    painted, z0 = slice_setting_label(truth.transpose(1, 2, 0))
    sp = [float(v) for v in im.header.get_zooms()[:3]]
    cfg = make_config("fast")
    out = complete_label(np.ascontiguousarray(img.transpose(2, 0, 1)),
                         np.ascontiguousarray(painted.transpose(2, 0, 1)),
                         (sp[2], 2 * sp[0], 2 * sp[1]),
                         CompletionSettings(cfg.completion_beta, cfg.completion_threshold))
    # unannotated voxels count against the organs here; every organ spans >= 10 slices,
    # one of which was painted, so copying the painted slice would score < 0.2
    scores = [_dice(out == c, truth == c) for c in range(1, 5)]
    assert np.mean(scores) > 0.7 and min(scores) > 0.4, scores
    background = (out == 0) & (truth != 0)
    assert background.sum() < 0.01 * (out == 0).sum()  # its background is background
    assert z0 == int(np.flatnonzero((painted != IGNORE).any(axis=(0, 1)))[0])
