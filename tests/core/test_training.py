"""Slice sampling (class-balanced, never from unannotated slices), pseudo-labels, stages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elsnet_core.config import make_config
from elsnet_core.losses import IGNORE
from elsnet_core.model import build_elsnet
from elsnet_core.training import SlicePool, Source, StageHooks, _will_overrun, lr_at, train_stage


def _volume() -> Source:
    lab = np.zeros((50, 8, 8), dtype=np.uint8)
    lab[5:45, 2:5, 2:5] = 1  # a large organ on 40 slices
    lab[30, 6, 6] = 2  # a small organ on one slice
    lab[47:] = IGNORE  # three slices not annotated
    return Source(np.zeros(lab.shape, np.float32), lab, "exemplar")


def test_small_organs_are_sampled_as_often_as_large_ones():
    src = _volume()
    rng = np.random.default_rng(0)
    picks = np.array([src.pick_slice(rng) for _ in range(4000)])
    share_small = float((picks == 30).mean())
    # uniform over foreground slices would give 1/40; class-balanced gives ~0.85/2
    assert 0.35 < share_small < 0.5
    assert not np.isin(picks, [47, 48, 49]).any()


def test_pool_returns_context_stacks_and_centre_labels():
    src = _volume()
    src.image[:] = np.arange(50, dtype=np.float32)[:, None, None]
    pool = SlicePool(1, {"exemplar": 1.0})
    pool.add(src)
    x, y = pool.sample(64, np.random.default_rng(1))
    assert x.shape == (64, 3, 8, 8) and y.shape == (64, 8, 8)
    centre = x[:, 1, 0, 0].long()
    assert (x[:, 0, 0, 0] - x[:, 2, 0, 0]).abs().le(2).all()
    for i in range(64):
        assert np.array_equal(y[i].numpy(), src.label[int(centre[i])])


def test_pseudo_labels_never_call_background_what_registration_calls_organ():
    import torch

    from elsnet_core.pseudo import agreement, select_confident

    probs = torch.zeros(1, 3, 4, 4)
    probs[:, 0] = 0.98  # the network is sure everything is background...
    probs[:, 1] = 0.02
    probs[0, :, 0, 0] = torch.tensor([0.02, 0.97, 0.01])  # ...except one organ-1 voxel
    prop = np.zeros((1, 4, 4), dtype=np.uint8)
    prop[0, 2:, 2:] = 2  # ...but registration puts organ 2 here
    prop[0, 0, 3] = IGNORE
    lab, _, argmax = select_confident(probs, 0.9, prop, agree_threshold=0.6)
    assert (lab[0, 2:, 2:] == IGNORE).all()  # missed organ: unknown, not background
    assert lab[0, 0, 0] == 1  # a confident organ call stays
    assert lab[0, 1, 1] == 0  # confident background where registration agrees stays
    assert (argmax == probs.argmax(dim=1).numpy()).all()
    scores = agreement(argmax, prop, 3)
    assert scores[2] == 0.0 and scores[1] == 0.0


def test_organs_stage_one_missed_are_handed_to_registration():
    from elsnet_core.pseudo import registration_fallback

    prop = np.zeros((3, 9, 9), dtype=np.uint8)
    prop[:, 1:4, 1:4] = 1  # learned organ
    prop[:, 4:9, 4:9] = 2  # organ the network never predicts
    pseudo = np.where(prop == 1, 1, 0).astype(np.uint8)
    pseudo[:, 4:9, 4:9] = IGNORE  # ignored by the "missed" rule
    pseudo[1, 8, 8] = 1  # a confident call of another organ is kept
    handed = registration_fallback([pseudo], [prop], [{1: 0.9, 2: 0.0}])
    assert handed == [2]
    assert (pseudo[:, 5:8, 5:8] == 2).all()  # eroded core of the propagated organ
    assert pseudo[1, 8, 8] == 1
    assert (pseudo[:, 1:4, 1:4] == 1).all()
    untouched = np.where(prop == 1, 1, 0).astype(np.uint8)
    assert registration_fallback([untouched], [prop], [{1: 0.9, 2: 0.5}]) == []


def test_a_study_misregistered_as_a_whole_neither_votes_nor_gets_registration_labels():
    from elsnet_core.pseudo import misregistered, organ_agreement, registration_fallback

    prop = np.zeros((3, 9, 9), dtype=np.uint8)
    prop[:, 1:4, 1:4] = 1
    prop[:, 4:9, 4:9] = 2
    # study 0 registered well (organ 1 agrees, organ 2 unlearned); study 1's registration
    # landed nowhere near the network's organs; study 2 holds no organ in either label
    agreements = [{1: 0.9, 2: 0.0}, {1: 0.05, 2: 0.29}, {}]
    assert misregistered(agreements) == [1]
    assert organ_agreement(agreements) == {1: 0.9, 2: 0.0}  # study 1 does not drag organ 1 down
    good, bad, empty = (np.zeros_like(prop) for _ in range(3))
    assert registration_fallback([good, bad, empty], [prop, prop, prop], agreements) == [2]
    assert (good[:, 5:8, 5:8] == 2).all()
    assert not bad.any()  # the misregistered study keeps the network's labels
    assert (empty[:, 5:8, 5:8] == 2).all()
    # an organ that is low only because of the misregistered study is not handed over
    assert registration_fallback([np.zeros_like(prop)] * 2, [prop, prop],
                                 [{1: 0.9, 2: 0.3}, {1: 0.0, 2: 0.0}]) == []


def test_pseudo_labels_ignore_organ_islands_outside_the_largest_component():
    import torch

    from elsnet_core.pseudo import select_confident

    probs = torch.zeros(3, 2, 8, 8)
    probs[:, 0] = 0.99
    probs[:, 1] = 0.01
    probs[:, :, 1:4, 1:4] = torch.tensor([0.01, 0.99])[None, :, None, None]  # organ body
    probs[1, :, 6, 6] = torch.tensor([0.01, 0.99])  # a confident, detached island
    lab, _, argmax = select_confident(probs, 0.9)
    assert argmax[1, 6, 6] == 1
    assert lab[1, 6, 6] == IGNORE  # not taught as organ, not as background either
    assert (lab[:, 1:4, 1:4] == 1).all() and lab[0, 7, 0] == 0


def test_class_balanced_pseudo_labels_keep_the_core_of_an_unsure_organ():
    import torch

    from elsnet_core.pseudo import select_confident

    # a confident organ 1 and an organ 2 the network is unsure of everywhere (0.6-0.85)
    probs = torch.zeros(2, 3, 10, 10)
    probs[:, 0] = 0.98
    probs[:, 1:] = 0.01
    probs[:, :, 1:4, 1:4] = torch.tensor([0.01, 0.98, 0.01])[None, :, None, None]
    conf2 = torch.linspace(0.6, 0.85, 16).view(4, 4)
    probs[:, 0, 5:9, 5:9] = 1 - conf2
    probs[:, 2, 5:9, 5:9] = conf2
    probs[:, 1, 5:9, 5:9] = 0.0
    plain, _, _ = select_confident(probs, 0.9)
    assert not (plain == 2).any()  # the threshold alone drops organ 2 entirely
    lab, _, _ = select_confident(probs, 0.9, class_keep=0.5)
    kept = lab[:, 5:9, 5:9] == 2
    # half of organ 2 (its more confident half) is kept, the rest stays ignored
    assert kept.sum() == 16 and (lab[:, 5:9, 5:9][~kept] == IGNORE).all()
    assert kept[:, 2:, :].all() and not kept[:, :2, :].any()
    # organ 1, confident everywhere, and the background are as before
    assert (lab[:, 1:4, 1:4] == 1).all() and (lab == plain)[:, :, :5].all()


def test_a_stage_segment_stops_at_stop_at_and_keeps_the_whole_stage_schedule():
    torch.manual_seed(0)
    cfg = make_config("tiny", {"batch_size": 2})
    model = build_elsnet(cfg, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    pool = SlicePool(cfg.context, {"exemplar": 1.0})
    img = np.random.default_rng(0).random((6, 64, 64)).astype(np.float32)
    lab = np.zeros((6, 64, 64), np.uint8)
    lab[:, 20:40, 20:40] = 1
    lab[:, 45:55, 10:20] = 2
    pool.add(Source(img, lab, "exemplar"))
    seen: list[int] = []
    hooks = StageHooks(on_iter=lambda it, m: seen.append(it), stop_at=5)
    it, metrics = train_stage(model, None, pool, cfg, opt, 40, 2, torch.device("cpu"), 0, hooks,
                              strong_aug=False, amp=False)
    assert it == 5 and seen == [3, 4, 5]
    # the learning rate follows the 40-iteration schedule, not a 5-iteration one
    assert metrics["lr"] == pytest.approx(lr_at(4, 40, cfg.lr))


def test_time_decay_starts_only_when_the_steps_left_would_overrun_the_deadline():
    # 100 iterations in 10 s: 400 more need 40 s
    assert not _will_overrun(100, 10.0, 400, time_left_s=60.0)
    assert _will_overrun(100, 10.0, 400, time_left_s=30.0)
    # too early to judge the pace: never on time
    assert not _will_overrun(5, 10.0, 400, time_left_s=1.0)


class _Oracle(torch.nn.Module):
    """A stand-in network: calls organ 1 wherever the centre slice is bright."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lab = (x[:, x.shape[1] // 2] > 0.5).long()
        return torch.nn.functional.one_hot(lab, 2).permute(0, 3, 1, 2).float() * 20


def test_pseudo_labelling_keeps_a_new_registration_only_where_it_agrees_better():
    from elsnet_core.pseudo import pseudo_label

    vol = np.zeros((4, 8, 8), np.float32)
    vol[1:3, 2:5, 2:5] = 1.0  # the organ, where the network will find it
    right = np.zeros(vol.shape, np.uint8)
    right[1:3, 2:5, 2:5] = 1
    wrong = np.zeros(vol.shape, np.uint8)
    wrong[1:3, 5:8, 5:8] = 1
    asked: list[int] = []

    def again(i: int, argmax: np.ndarray) -> np.ndarray:
        asked.append(i)
        np.testing.assert_array_equal(argmax, right)  # it is given the network's organs
        return right if i == 0 else wrong

    # given study 0 registered wrongly and study 1 registered right, and a re-registration
    # that gets study 0 right and study 1 wrong
    props = [wrong, right]
    labels, _, agrees, used = pseudo_label(_Oracle(), [vol, vol], 1, torch.device("cpu"), 0.9,
                                           props, amp=False, reregister=again)
    # then study 0 takes the new registration and study 1 keeps its own
    assert asked == [0, 1]
    assert used is not None and used[0] is right and used[1] is right
    assert props == [wrong, right]  # the caller's list is left as it was
    assert agrees[0][1] == 1.0 and agrees[1][1] == 1.0
    # and the pseudo-labels were chosen against the registration kept: nothing is ignored
    # as "registration says organ, network says background"
    assert not (labels[0] == IGNORE).any()
