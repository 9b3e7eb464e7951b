"""The numbers an evaluation reports, from label maps whose Dice and HD95 are known by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from worker.evaluation import evaluation_document, score_study, study_record

LABELS = {1: "liver", 2: "kidney", 3: "spleen", 4: "aorta"}
SPACING = (1.0, 1.0, 3.0)


def _maps() -> tuple[np.ndarray, np.ndarray]:
    """liver identical (Dice 1, HD95 0); kidney 4 voxels in the reference, 2 of them predicted
    (Dice 2*2/(2+4)); spleen in neither (skipped); aorta only predicted (Dice 0, no finite HD95)."""
    ref = np.zeros((8, 8, 6), np.uint8)
    pred = np.zeros_like(ref)
    ref[1:3, 1:3, 1] = pred[1:3, 1:3, 1] = 1
    ref[5, 5, 1:5] = 2
    pred[5, 5, 1:3] = 2
    pred[6, 1, 4] = 4
    return pred, ref


def test_study_scores_and_json_safe_record() -> None:
    pred, ref = _maps()
    rec = study_record(score_study(pred, ref, SPACING, sorted(LABELS), study_id="s1"), "case_02", None)
    assert rec["study_id"] == "s1" and rec["name"] == "case_02"
    assert rec["dice"] == {"1": 1.0, "2": pytest.approx(2 / 3), "3": None, "4": 0.0}
    # kidney: both predicted voxels lie on the reference (0 mm); of the reference's four, two are
    # predicted and two lie 3 and 6 mm (one and two slices) beyond: the 95th percentile of all six
    assert rec["hd95"]["1"] == 0.0 and rec["hd95"]["2"] == pytest.approx(np.percentile([0, 0, 0, 0, 3, 6], 95))
    # spleen in neither, aorta in one only: no finite distance, stored as null (JSON has no infinity)
    assert rec["hd95"]["3"] is None and rec["hd95"]["4"] is None
    assert rec["mean_dice"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_document_averages_each_organ_over_studies_then_over_organs() -> None:
    pred, ref = _maps()
    a = score_study(pred, ref, SPACING, sorted(LABELS), study_id="a")
    b = score_study(ref, ref, SPACING, sorted(LABELS), study_id="b")  # a perfect second study
    doc = evaluation_document(
        model_id="m", job_id="j", labels=LABELS, cases=[a, b],
        studies=[study_record(a, "A", None), study_record(b, "B", None)],
        failed=[{"study_id": "c", "name": "C", "reason": "unreadable"}],
        excluded=[{"study_id": "x", "name": "X", "reason": "exemplar the model was trained on"}],
        at=datetime(2026, 12, 14, tzinfo=UTC),
    )
    cls = doc["classes"]
    assert (cls["1"]["name"], cls["1"]["dice"], cls["1"]["n_studies"]) == ("liver", 1.0, 2)
    assert cls["2"]["dice"] == pytest.approx((2 / 3 + 1) / 2) and cls["2"]["n_studies"] == 2
    assert (cls["3"]["dice"], cls["3"]["n_studies"]) == (None, 0)  # in no study: does not count
    # the aorta is only in study a's prediction: Dice 0 over one study, its HD95 counted as missing
    assert (cls["4"]["dice"], cls["4"]["n_studies"], cls["4"]["hd95"], cls["4"]["hd95_missing"]) == (0.0, 1, None, 1)
    assert doc["mean_dice"] == pytest.approx((1 + (2 / 3 + 1) / 2 + 0) / 3)
    assert doc["n_studies"] == 2 and [s["study_id"] for s in doc["studies"]] == ["a", "b"]
    assert doc["failed"][0]["reason"] == "unreadable" and doc["excluded"][0]["study_id"] == "x"
    assert doc["evaluated_at"] == "2026-12-14T00:00:00+00:00" and doc["job_id"] == "j"


def test_a_mask_on_another_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="differs from the reference"):
        score_study(np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 5), np.uint8), SPACING, [1])
