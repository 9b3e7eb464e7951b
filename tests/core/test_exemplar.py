"""Exemplar ranking puts an atypical study last."""

from __future__ import annotations

import numpy as np

from elsnet_core.exemplar import rank_exemplars
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
