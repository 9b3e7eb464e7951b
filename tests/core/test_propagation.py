"""Slice-to-slice propagation of a painted slice through the exemplar."""

import numpy as np

from elsnet_core.losses import IGNORE
from elsnet_core.propagation import PropagationSettings, painted_slices, propagate_slices


def _moving_disc(depth: int = 9, size: int = 48, shift_px: int = 2):
    """A bright disc (class 1) and a dimmer square (class 2) that drift slice by slice."""
    yy, xx = np.mgrid[:size, :size]
    img = np.zeros((depth, size, size), np.float32)
    lab = np.zeros((depth, size, size), np.uint8)
    for z in range(depth):
        cx = 16 + shift_px * (z - depth // 2)
        disc = (yy - 24) ** 2 + (xx - cx) ** 2 <= 7 ** 2
        square = (abs(yy - 24) <= 5) & (abs(xx - (cx + 16)) <= 4)
        lab[z][disc], lab[z][square] = 1, 2
        img[z] = 0.1 + 0.8 * disc + 0.4 * square
    return img, lab


def _one_slice(lab: np.ndarray, z: int) -> np.ndarray:
    out = np.full(lab.shape, IGNORE, np.uint8)
    out[z] = lab[z]
    return out


def test_propagated_labels_follow_the_anatomy_and_stop_at_max_mm():
    img, truth = _moving_disc()
    painted = _one_slice(truth, 4)
    out = propagate_slices(img, painted, (5.0, 1.0, 1.0),
                           PropagationSettings(max_mm=10.0, band_mm_per_10mm=0.0))
    assert np.array_equal(out[4], truth[4])  # the painted slice is kept as painted
    for z in (2, 3, 5, 6):  # within 10 mm: filled, and right where the organs moved to
        assert (out[z] != IGNORE).all()
        for c in (1, 2):
            a, b = out[z] == c, truth[z] == c
            assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.85, (z, c)
    # copying the painted slice unchanged would score worse at 2 slices' distance
    stale = truth[4] == 1
    moved = truth[6] == 1
    assert 2 * (stale & moved).sum() / (stale.sum() + moved.sum()) < 0.8
    for z in (0, 1, 7, 8):  # beyond max_mm: still unknown
        assert (out[z] == IGNORE).all()


def test_uncertain_band_widens_with_distance():
    img, truth = _moving_disc()
    out = propagate_slices(img, _one_slice(truth, 4), (5.0, 1.0, 1.0),
                           PropagationSettings(max_mm=20.0, band_mm_per_10mm=2.0))
    unknown = [(out[z] == IGNORE).sum() for z in (5, 6, 7, 8)]
    assert unknown[0] > 0
    assert unknown == sorted(unknown) and unknown[-1] > unknown[0]
    # what stays known is right
    known = out[8] != IGNORE
    assert (out[8][known] == truth[8][known]).mean() > 0.95


def test_slices_between_two_painted_ones_take_the_nearer():
    img, truth = _moving_disc()
    painted = _one_slice(truth, 1)
    painted[6] = truth[6]
    out = propagate_slices(img, painted, (5.0, 1.0, 1.0),
                           PropagationSettings(max_mm=50.0, band_mm_per_10mm=0.0))
    assert painted_slices(painted) == [1, 6]
    assert np.array_equal(out[1], truth[1]) and np.array_equal(out[6], truth[6])
    assert (out != IGNORE).all()
    for z in range(len(truth)):
        inter = ((out[z] == 1) & (truth[z] == 1)).sum()
        assert 2 * inter / ((out[z] == 1).sum() + (truth[z] == 1).sum()) > 0.85, z


def test_fully_annotated_or_unpainted_labels_are_returned_unchanged():
    img, truth = _moving_disc()
    assert np.array_equal(propagate_slices(img, truth, (5.0, 1.0, 1.0)), truth)
    blank = np.full(truth.shape, IGNORE, np.uint8)
    assert np.array_equal(propagate_slices(img, blank, (5.0, 1.0, 1.0)), blank)
