"""Typed configs: presets, the naive baseline's switches, widening for many classes."""

from __future__ import annotations

import dataclasses

from elsnet_core.config import make_config


def test_the_standard_unet_baseline_switches_off_every_part_of_the_method():
    cfg = make_config("fast", {"standard_aug_only": True}).effective()
    assert (cfg.cohort_synthesis, cfg.contrastive, cfg.stage2, cfg.slice_completion) == (
        False, False, False, False)
    # the network, the schedule and the loss are the method's own
    full = make_config("fast")
    same = ("widths", "size", "stage1_iters", "lr", "ce_class_power")
    assert {k: getattr(cfg, k) for k in same} == {k: getattr(full, k) for k in same}


def test_the_method_keeps_its_parts_on():
    cfg = make_config("fast")
    assert cfg.effective() is cfg
    assert (cfg.cohort_synthesis, cfg.contrastive, cfg.stage2, cfg.slice_completion) == (
        True, True, True, True)


def test_widths_double_until_the_first_holds_every_class():
    cfg = make_config("fast")
    wide = cfg.for_classes(14)
    assert wide.widths[0] >= 14 and wide.widths[0] < 2 * 14
    assert [w / v for w, v in zip(wide.widths, cfg.widths, strict=True)] == [
        wide.widths[0] / cfg.widths[0]] * len(cfg.widths)
    assert cfg.for_classes(cfg.widths[0]) is cfg
    narrow = dataclasses.replace(cfg, widen_for_classes=False)
    assert narrow.for_classes(14) is narrow
