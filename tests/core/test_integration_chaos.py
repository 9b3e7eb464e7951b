"""Integration: fit a tiny budget on one real CHAOS MR case, segment another real case.

Reads ../shared/data/chaos_mr_t2 (next to the repository); where a clone lives elsewhere,
the bundled samples/chaos_mr_t2 (the same CHAOS files, unchanged, cases 01/02/03/05), so a
fresh clone anywhere runs it too. A broken pipeline (wrong geometry, labels misaligned with
images, no learning) cannot reach the floor.
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from elsnet_core import Predictor, fit
from tests.core.helpers import CHAOS as DATA


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


@pytest.mark.skipif(not (DATA / "dataset.json").exists(),
                    reason=f"real CHAOS data not found at {DATA}")
def test_tiny_fit_on_real_case_segments_another_real_case(tmp_path):
    torch.set_num_threads(2)
    cases = sorted(json.loads((DATA / "dataset.json").read_text())["cases"])
    ex, test_case = cases[0], cases[1]
    res = fit([(DATA / "images" / f"{ex}.nii.gz", DATA / "labels" / f"{ex}.nii.gz")],
              [DATA / "images" / f"{test_case}.nii.gz"], tmp_path / "model", preset="tiny",
              device="cpu", seed=0, overrides={"time_budget_s": None})
    pred = Predictor.load(res.model_dir, device="cpu").predict_file(
        DATA / "images" / f"{test_case}.nii.gz")
    truth = nib.load(str(DATA / "labels" / f"{test_case}.nii.gz"))
    gt = np.asarray(truth.dataobj)
    assert pred.labels.shape == gt.shape
    np.testing.assert_allclose(pred.affine, truth.affine, atol=1e-4)
    liver = _dice(pred.labels == 1, gt == 1)
    assert liver > 0.5, f"liver Dice {liver:.3f}"
    mean4 = np.mean([_dice(pred.labels == k, gt == k) for k in range(1, 5)])
    assert mean4 > 0.3, f"mean Dice {mean4:.3f}"
