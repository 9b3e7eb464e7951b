"""fit(): artefact, progress, cancel, resume, and checkpoint round trip on tiny volumes."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from elsnet_core import Predictor, fit
from elsnet_core.api import NOT_LEARNED_DICE, FitResult, _class_weights, _Study
from elsnet_core.artifact import load_model
from elsnet_core.config import make_config
from elsnet_core.errors import Cancelled, InvalidExemplar, InvalidInput, ModelLoadError
from elsnet_core.exemplar import suggest_next_slice
from elsnet_core.losses import IGNORE
from elsnet_core.metrics import pooled_dice
from elsnet_core.pseudo import REGISTRATION_FALLBACK_DICE
from tests.core.helpers import blob_case, oblique_affine, write_case

QUICK = {"stage1_iters": 24, "stage2_iters": 8, "batch_size": 4, "time_budget_s": None,
         "checkpoint_every_s": 0.0}


@pytest.fixture()
def cohort(tmp_path):
    aff = oblique_affine(spacing=(2.0, 2.0, 5.0), angle_deg=10)
    img, lab = blob_case(seed=0)
    ex = write_case(tmp_path / "data", "ex", img, lab, aff)
    unl = []
    for i, shift in enumerate([(2, -1), (-2, 2)]):
        im, _ = blob_case(shift=shift, seed=i + 1)
        unl.append(write_case(tmp_path / "data", f"u{i}", im, None, aff)[0])
    return ex, unl


def test_fit_writes_loadable_artefact_with_monotonic_progress(cohort, tmp_path):
    (ex_img, ex_lab), unl = cohort
    events = []
    torch.set_num_threads(2)
    res = fit([(ex_img, ex_lab)], unl, tmp_path / "model", preset="tiny", device="cpu",
              labels={1: "big", 2: "small"}, progress=events.append, overrides=QUICK)
    # artefact: weights + config.json + metrics.json, loadable, labels kept
    for name in ("weights.pt", "config.json", "metrics.json"):
        assert (res.model_dir / name).exists()
    meta = json.loads((res.model_dir / "config.json").read_text())
    assert meta["labels"] == {"1": "big", "2": "small"} and meta["plan"]["n_classes"] == 3
    assert res.metrics["stage1_iters"] == 24 and res.metrics["stage2_iters"] == 8
    # progress covers every stage, is monotonic and ends at 1
    stages = [e.stage for e in events]
    assert {"synthesis", "train_stage1", "pseudo_label", "train_stage2"} <= set(stages)
    fr = [e.fraction for e in events]
    assert fr == sorted(fr) and fr[-1] == pytest.approx(1.0)
    pred = Predictor.load(res.model_dir, device="cpu").predict_file(unl[0])
    assert pred.labels.shape == (40, 36, 8)
    assert Predictor.load(res.model_dir, device="cpu").labels == {1: "big", 2: "small"}


def test_checkpoint_round_trip_gives_identical_outputs(cohort, tmp_path):
    (ex_img, ex_lab), _ = cohort
    res = fit([(ex_img, ex_lab)], [], tmp_path / "m", preset="tiny", device="cpu",
              overrides={**QUICK, "stage1_iters": 4})
    a, _, _, _, _ = load_model(res.model_dir, torch.device("cpu"))
    b, _, _, _, _ = load_model(res.model_dir, torch.device("cpu"))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    (res.model_dir / "config.json").unlink()
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        Predictor.load(res.model_dir, device="cpu")


def test_cancel_raises_cancelled(cohort, tmp_path):
    (ex_img, ex_lab), unl = cohort
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(Cancelled):
        fit([(ex_img, ex_lab)], unl, tmp_path / "m", preset="tiny", device="cpu",
            should_stop=stop, overrides={**QUICK, "cohort_synthesis": False})
    assert not (tmp_path / "m" / "weights.pt").exists()


def test_resume_from_work_dir_continues(cohort, tmp_path):
    (ex_img, ex_lab), unl = cohort
    work = tmp_path / "work"
    ov = {**QUICK, "cohort_synthesis": False, "stage2": False, "stage1_iters": 20}
    polls = {"n": 0}

    def stop_after_10() -> bool:  # should_stop is polled once per training iteration
        polls["n"] += 1
        return polls["n"] > 10

    # first run is cancelled in the middle of stage 1 and leaves a checkpoint
    with pytest.raises(Cancelled):
        fit([(ex_img, ex_lab)], unl, tmp_path / "m", preset="tiny", device="cpu",
            work_dir=work, should_stop=stop_after_10, overrides=ov)
    ckpt = torch.load(work / "checkpoint.pt", weights_only=True)
    done = int(ckpt["iter"])
    assert ckpt["stage"] == "train_stage1" and 5 <= done < 20

    # second run resumes: it only runs the remaining iterations
    polls["n"] = 0

    def count() -> bool:
        polls["n"] += 1
        return False

    res = fit([(ex_img, ex_lab)], unl, tmp_path / "m", preset="tiny", device="cpu",
              work_dir=work, should_stop=count, overrides=ov)
    assert res.metrics["stage1_iters"] == 20
    assert polls["n"] <= (20 - done) + 3


def test_exemplar_without_organ_is_rejected(tmp_path):
    img, lab = blob_case()
    ip, lp = write_case(tmp_path, "ex", img, np.zeros_like(lab), oblique_affine())
    with pytest.raises(InvalidExemplar):
        fit([(ip, lp)], [], tmp_path / "m", preset="tiny", device="cpu")


def test_self_training_rounds_pseudo_label_again_before_each_segment(cohort, tmp_path):
    (ex_img, ex_lab), unl = cohort
    work = tmp_path / "work"
    events = []
    res = fit([(ex_img, ex_lab)], unl, tmp_path / "m", preset="tiny", device="cpu",
              work_dir=work, progress=events.append,
              overrides={**QUICK, "cohort_synthesis": False, "stage2_iters": 9,
                         "self_training_rounds": 3, "pseudo_threshold": 0.0})
    # one schedule of 9 stage-2 iterations, cut in 3 rounds, each with its own pseudo-labels
    # (threshold 0: this barely trained model is nowhere 90 % sure, yet every round must label)
    assert res.metrics["stage2_iters"] == 9
    caches = sorted(p.name.rsplit("_", 1)[1] for p in work.glob("pseudo_*.npz"))
    assert caches == ["r0.npz", "r1.npz", "r2.npz"]
    for r in (2, 3):
        assert 0.0 < res.metrics[f"round{r}_pseudo_kept_fraction"] <= 1.0
    labels = [e.message for e in events if "pseudo-labelling study" in e.message]
    assert any(m.startswith("round 3/3") for m in labels)
    fr = [e.fraction for e in events]
    assert fr == sorted(fr) and fr[-1] == pytest.approx(1.0)


def test_spent_time_budget_still_trains_each_stage_its_minimum(cohort, tmp_path):
    # a budget already spent when stage 1 starts (a large cohort registered on a slow CPU)
    # must not yield an untrained model: each stage runs MIN_TRAIN_FRACTION of its plan
    (ex_img, ex_lab), unl = cohort
    res = fit([(ex_img, ex_lab)], unl, tmp_path / "m", preset="tiny", device="cpu",
              overrides={**QUICK, "stage1_iters": 40, "stage2_iters": 20, "time_budget_s": 1e-3})
    assert res.metrics["stage1_iters"] == 4 and res.metrics["stage2_iters"] == 2


def test_large_cohort_trains_on_a_seeded_subset(cohort, tmp_path):
    (ex_img, ex_lab), unl = cohort
    res = fit([(ex_img, ex_lab)], unl, tmp_path / "m", preset="tiny", device="cpu",
              overrides={**QUICK, "stage1_iters": 4, "stage2_iters": 2, "max_unlabeled": 1})
    assert res.metrics["n_unlabeled_given"] == 2 and res.metrics["n_unlabeled_used"] == 1
    # one registered study: its own deformation, then a rescaled one, both in its own style
    assert res.metrics["n_cohort_samples"] == 2
    with pytest.raises(InvalidInput, match="max_unlabeled"):
        fit([(ex_img, ex_lab)], unl, tmp_path / "m2", preset="tiny", device="cpu",
            overrides={**QUICK, "max_unlabeled": -1})
    with pytest.raises(InvalidInput, match="pseudo_class_keep"):
        fit([(ex_img, ex_lab)], unl, tmp_path / "m3", preset="tiny", device="cpu",
            overrides={**QUICK, "pseudo_class_keep": 1.5})
    with pytest.raises(InvalidInput, match="ce_class_power"):
        fit([(ex_img, ex_lab)], unl, tmp_path / "m3", preset="tiny", device="cpu",
            overrides={**QUICK, "ce_class_power": -1.0})
    with pytest.raises(InvalidInput, match="ce_class_min_ratio >= 1"):
        fit([(ex_img, ex_lab)], unl, tmp_path / "m3", preset="tiny", device="cpu",
            overrides={**QUICK, "ce_class_power": 0.5, "ce_class_min_ratio": 0.5})


def test_fit_widens_the_network_for_many_classes_and_saves_the_resolved_widths(cohort, tmp_path):
    # given an exemplar whose highest organ label is 9 (10 classes > the tiny preset's 8)
    (ex_img, ex_lab), _ = cohort
    img = nib.load(str(ex_lab))
    lab = np.asarray(img.dataobj).astype(np.uint8)
    lab[lab == 1] = 9  # the big blob becomes organ 9; organs 1 and 3..8 are simply absent
    many = tmp_path / "many.nii.gz"
    nib.save(nib.Nifti1Image(lab, img.affine), str(many))
    # when a model is fitted, then loaded again
    res = fit([(ex_img, many)], [], tmp_path / "m", preset="tiny", device="cpu",
              overrides={**QUICK, "stage1_iters": 2})
    meta = json.loads((res.model_dir / "config.json").read_text())
    # then the widths were doubled once and saved so, and the saved model loads with them
    assert meta["config"]["widths"] == [16, 32, 64, 128] and meta["plan"]["n_classes"] == 10
    model, cfg, *_ = load_model(res.model_dir, torch.device("cpu"))
    assert cfg.widths == (16, 32, 64, 128)
    assert model(torch.rand(1, 3, 64, 64)).shape[1] == 10


def test_class_balanced_ce_weights_the_small_organ_from_the_exemplar(cohort, tmp_path):
    # given the blob exemplar (a big organ 1 and a small organ 2)
    (ex_img, ex_lab), _ = cohort
    lab = np.asarray(nib.load(str(ex_lab)).dataobj)
    n1, n2 = int((lab == 1).sum()), int((lab == 2).sum())
    assert n1 > n2 > 0
    # when fitted with the class-balanced CE on, and with it off
    on = fit([(ex_img, ex_lab)], [], tmp_path / "on", preset="tiny", device="cpu",
             overrides={**QUICK, "stage1_iters": 2, "ce_class_power": 0.5})
    off = fit([(ex_img, ex_lab)], [], tmp_path / "off", preset="tiny", device="cpu",
              overrides={**QUICK, "stage1_iters": 2})
    # then the small organ's weight exceeds 1, the big one keeps 1, and the saved config says so
    w1, w2 = on.metrics["ce_weight_1"], on.metrics["ce_weight_2"]
    assert w1 == 1.0 and 1.0 < w2 <= 10.0
    assert "ce_weight_2" not in off.metrics
    meta = json.loads((on.model_dir / "config.json").read_text())
    assert meta["config"]["ce_class_power"] == 0.5


def test_stage1_only_class_weights_leave_stage2_on_plain_ce(cohort, tmp_path, monkeypatch):
    import elsnet_core.api as api

    seen = []
    real = api.train_stage

    def spy(*args, **kwargs):
        seen.append(kwargs.get("class_weights"))
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "train_stage", spy)
    (ex_img, ex_lab), unl = cohort
    fit([(ex_img, ex_lab)], unl, tmp_path / "m", preset="tiny", device="cpu",
        overrides={**QUICK, "stage1_iters": 2, "stage2_iters": 2, "cohort_synthesis": False,
                   "ce_class_power": 0.5, "ce_class_stage1_only": True})
    # stage 1 got the weights (small organ lifted), stage 2 none
    assert len(seen) == 2
    assert seen[0] is not None and float(seen[0][2]) > 1.0 and seen[1] is None


def test_same_seed_gives_the_same_model_and_another_seed_does_not(cohort, tmp_path):
    # repeatability: registration, synthesis, sampling and training all follow the seed; a
    # time budget that does not bind must not make the learning rate depend on the clock
    # (more iterations than the 20 of warm-up, where the schedule starts to decay)
    (ex_img, ex_lab), unl = cohort
    torch.set_num_threads(2)
    budgeted = {**QUICK, "stage1_iters": 40, "time_budget_s": 600.0}

    def weights(name: str, seed: int) -> dict[str, torch.Tensor]:
        res = fit([(ex_img, ex_lab)], unl, tmp_path / name, preset="tiny", device="cpu",
                  seed=seed, overrides=budgeted)
        return torch.load(res.model_dir / "weights.pt", weights_only=True)

    a, b, c = weights("a", 0), weights("b", 0), weights("c", 1)
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_a_slice_exemplar_gets_the_next_slice_to_paint_and_a_whole_one_does_not(tmp_path):
    aff = np.diag([2.0, 2.0, 5.0, 1.0])
    img, lab = blob_case(shape=(40, 36, 12), seed=0)  # organs on slices 1..10
    one = np.full(lab.shape, 255, np.uint8)
    one[:, :, 2] = lab[:, :, 2]
    ex = write_case(tmp_path / "data", "ex", img, one, aff)
    unl = [write_case(tmp_path / "data", "u0", blob_case(shape=(40, 36, 12), shift=(2, -1),
                                                            seed=1)[0], None, aff)[0]]
    torch.set_num_threads(2)
    res = fit([ex], unl, tmp_path / "m", preset="tiny", device="cpu",
              overrides={**QUICK, "stage1_iters": 60, "stage2_iters": 20})
    # the model finds the blobs on the unpainted slices (and, like real models, a little
    # beyond them): the suggestion bisects the stretch from slice 2 to the far end
    assert set(res.next_slices) == {0}
    sug = res.next_slices[0]
    lo, hi = sug.organ_extent
    assert lo <= 1 and hi >= 10
    assert sug.slice_index == (2 + hi) // 2 and sug.gap_mm == (hi - 2) * 5.0
    # it is the rule applied to the saved model's prediction of the exemplar study
    pred = Predictor.load(res.model_dir, device="cpu").predict_file(ex[0]).labels
    assert suggest_next_slice(pred, one, 5.0) == sug
    # the self-check scores the painted slice only, with the model as saved
    assert res.exemplar_dice == pooled_dice([(pred, one)], 3)
    assert set(res.exemplar_dice) == {1, 2} and res.exemplar_dice[1] > 0.5
    assert res.metrics["exemplar_dice_1"] == res.exemplar_dice[1]
    # the random-walk completion labelled most of the exemplar before training (1/12 painted)
    assert res.metrics["slice_exemplar_labelled_fraction"] > 0.5
    # ... and fit hands that label back on the exemplar's own grid: the painted slice as
    # painted, the blobs found on the slices nobody painted
    assert set(res.completed_labels) == {0}
    done = res.completed_labels[0]
    assert done.shape == lab.shape and done.dtype == np.uint8
    np.testing.assert_array_equal(done[:, :, 2], lab[:, :, 2])
    far = [k for k in range(12) if k != 2]
    for organ in (1, 2):
        truth, got = lab[:, :, far] == organ, done[:, :, far] == organ
        assert 2 * (truth & got).sum() / (truth.sum() + got.sum()) > 0.6, organ
    whole = write_case(tmp_path / "data", "ex_whole", img, lab, aff)
    res2 = fit([whole], [], tmp_path / "m2", preset="tiny", device="cpu",
               overrides={**QUICK, "stage1_iters": 4})
    assert res2.next_slices == {} and res2.completed_labels == {}


def test_not_learned_lists_the_organs_below_the_self_check_floor(tmp_path):
    res = FitResult(tmp_path, {}, {}, 1.0, "cpu", exemplar_dice={1: 0.93, 2: 0.0, 3: 0.49, 4: 0.5})
    assert NOT_LEARNED_DICE == 0.5 and res.not_learned == [2, 3]
    assert FitResult(tmp_path, {}, {}, 1.0, "cpu").not_learned == []


def test_from_registration_lists_the_organs_stage1_and_registration_disagree_on(tmp_path):
    metrics = {"stage1_vs_registration_dice_1": 0.81, "stage1_vs_registration_dice_2": 0.05,
               "stage1_vs_registration_dice_3": 0.2, "stage1_vs_registration_dice_12": 0.0,
               "round2_vs_registration_dice_1": 0.0,  # later rounds hand nothing over
               "exemplar_dice_3": 0.0, "pseudo_confidence": 0.1}
    res = FitResult(tmp_path, {}, metrics, 1.0, "cpu")
    assert REGISTRATION_FALLBACK_DICE == 0.2 and res.from_registration == {2: 0.05, 12: 0.0}
    assert FitResult(tmp_path, {}, {}, 1.0, "cpu").from_registration == {}  # no cohort


def test_a_fit_resumed_after_pseudo_labelling_keeps_the_registration_agreement(cohort, tmp_path):
    (ex_img, ex_lab), unl = cohort
    whole = fit([(ex_img, ex_lab)], unl, tmp_path / "a", preset="tiny", device="cpu",
                work_dir=tmp_path / "wa", overrides=QUICK)
    agreement = {k: v for k, v in whole.metrics.items() if "_vs_registration_dice_" in k}
    assert agreement, whole.metrics  # the cohort was registered and compared, organ by organ
    work = tmp_path / "wb"  # cancelled at the first poll after the pseudo-labels were cached

    with pytest.raises(Cancelled):
        fit([(ex_img, ex_lab)], unl, tmp_path / "b", preset="tiny", device="cpu", work_dir=work,
            should_stop=lambda: any(work.rglob("pseudo_*.npz")), overrides=QUICK)
    resumed = fit([(ex_img, ex_lab)], unl, tmp_path / "b", preset="tiny", device="cpu",
                  work_dir=work, overrides=QUICK)  # stage 2 resumes from the cached labels
    assert {k: v for k, v in resumed.metrics.items() if "_vs_registration_dice_" in k} == \
        pytest.approx(agreement)


def test_a_resumed_slice_fit_reuses_the_completed_exemplar(tmp_path, monkeypatch):
    aff = np.diag([2.0, 2.0, 5.0, 1.0])
    img, lab = blob_case(shape=(40, 36, 12), seed=0)
    one = np.full(lab.shape, 255, np.uint8)
    one[:, :, 5] = lab[:, :, 5]
    ex = write_case(tmp_path / "data", "ex", img, one, aff)
    work = tmp_path / "work"
    ov = {**QUICK, "stage1_iters": 4, "stage2": False}
    first = fit([ex], [], tmp_path / "m", preset="tiny", device="cpu", work_dir=work,
                overrides=ov)
    assert len(list(work.glob("completion_*.npz"))) == 1

    def walk_again(*args, **kwargs):
        raise AssertionError("the resumed run walked the exemplar again")

    monkeypatch.setattr("elsnet_core.api.complete_label", walk_again)
    again = fit([ex], [], tmp_path / "m", preset="tiny", device="cpu", work_dir=work,
                overrides=ov)
    share = first.metrics["slice_exemplar_labelled_fraction"]
    assert 0.5 < share == again.metrics["slice_exemplar_labelled_fraction"]
    # a corrected annotation saved at the same path is new work: it is walked, not resumed
    one[:, :, 5] = 0
    one[:, :, 6] = lab[:, :, 6]
    write_case(tmp_path / "data", "ex", img, one, aff)
    with pytest.raises(AssertionError, match="walked the exemplar again"):
        fit([ex], [], tmp_path / "m", preset="tiny", device="cpu", work_dir=work, overrides=ov)


def test_class_weights_of_comparable_organs_leave_the_plain_loss(tmp_path):
    # organs of 10 / 8 / 1 labelled voxels: mean 6.33, ratios 0.63 / 0.79 / 6.33
    lab = np.zeros((1, 4, 8), np.uint8)
    lab[0, 0, :] = 1
    lab[0, 1, :2] = 1
    lab[0, 2, :8] = 2
    lab[0, 3, 0] = 3
    lab[0, 3, 1] = IGNORE  # not annotated: not counted
    study = _Study(np.zeros(lab.shape, np.float32), lab, (1.0, 1.0, 1.0))
    cfg = make_config("tiny", {"ce_class_power": 0.5, "ce_class_min_ratio": 2.0})
    w, recorded = _class_weights([study], 4, cfg)
    assert w is not None and w.tolist() == pytest.approx([1.0, 1.0, 1.0, 6.33 ** 0.5], abs=1e-3)
    assert recorded["ce_weight_3"] == pytest.approx(6.33 ** 0.5, abs=1e-3)
    # without the small organ every weight is 1: no weight tensor at all (the plain CE path),
    # while the weights are still recorded
    lab[lab == 3] = 0
    w, recorded = _class_weights([study], 4, cfg)
    assert w is None and recorded == {"ce_weight_1": 1.0, "ce_weight_2": 1.0, "ce_weight_3": 1.0}
    assert _class_weights([study], 4, make_config("tiny")) == (None, {})
