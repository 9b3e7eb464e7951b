"""Benchmark protocol: split, slice rule, aggregation, and an atlas run on a fake pack."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from elsnet_core.bench import (
    format_table,
    main,
    protocol_split,
    select_annotated_slice,
    slice_setting_label,
)
from elsnet_core.metrics import CaseScores, aggregate


def test_protocol_split_sorts_and_excludes_exemplar_subject() -> None:
    cases = [
        "patient007_frame01",
        "patient001_frame02",
        "patient002_frame01",
        "patient001_frame01",
        "patient002_frame02",
    ]
    split = protocol_split(cases)
    assert split.exemplar == "patient001_frame01"
    assert split.test == ("patient002_frame01", "patient002_frame02", "patient007_frame01")
    assert split.unlabeled == split.test
    # packs without frames: just "all but the first"
    assert protocol_split(["case_10", "case_02", "case_01"]).test == ("case_02", "case_10")
    with pytest.raises(ValueError):
        protocol_split(["a_frame01", "a_frame02"])
    # exemplar-variance studies: another exemplar, its own subject still excluded
    other = protocol_split(cases, exemplar="patient002_frame02")
    assert other.test == ("patient001_frame01", "patient001_frame02", "patient007_frame01")


def test_slice_rule_most_classes_then_area_then_lower_index() -> None:
    lab = np.zeros((6, 6, 6), np.uint8)
    lab[0:4, 0:4, 1] = 1  # slice 1: one class, large
    lab[0, 0, 2] = 1  # slice 2: two classes, area 2
    lab[1, 1, 2] = 2
    lab[0:2, 0, 4] = 1  # slice 4: two classes, area 3 -> wins
    lab[3, 3, 4] = 3
    lab[0:2, 0, 5] = 2  # slice 5: same classes count and area as 4 -> lower index (4) wins
    lab[3, 3, 5] = 3
    assert select_annotated_slice(lab) == 4
    lab[:, :, 3] = 255  # "not annotated" is neither a class nor foreground
    assert select_annotated_slice(lab) == 4
    out, k = slice_setting_label(lab)
    assert k == 4
    assert np.array_equal(out[:, :, 4], lab[:, :, 4])
    assert (np.delete(out, 4, axis=2) == 255).all()


def test_aggregation_mean_over_classes_of_case_means() -> None:
    s = [
        CaseScores("a", {1: 0.8, 2: 0.2}, {1: 1.0, 2: 2.0}),
        CaseScores("b", {1: 0.6, 2: None}, {1: 3.0, 2: None}),
    ]
    agg = aggregate(s, {1: "liver", 2: "spleen"})
    assert agg["dice"] == {"liver": pytest.approx(0.7), "spleen": pytest.approx(0.2)}
    assert agg["mean_dice"] == pytest.approx(0.45)


def _ellipsoid(shape, centre, radii) -> np.ndarray:
    g = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    return sum(((gi - c) / r) ** 2 for gi, c, r in zip(g, centre, radii, strict=True)) <= 1.0


@pytest.fixture()
def fake_pack(tmp_path: Path) -> Path:
    """3 cases of a 2-organ phantom, each shifted/scaled a little; 2 mm x 2 mm x 4 mm."""
    root = tmp_path / "fake_pack"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    affine = np.diag([2.0, 2.0, 4.0, 1.0])
    cases = ["case_b", "case_a", "case_c"]
    for i, case in enumerate(cases):
        shape = (40, 36, 14)
        c = np.array([20.0 + 2 * i, 18.0 - i, 7.0])
        body = _ellipsoid(shape, c, (14 - i, 12, 5.5))
        organ1 = _ellipsoid(shape, np.add(c, (-5, 0, 0)), (4, 4, 3))
        organ2 = _ellipsoid(shape, np.add(c, (5, 1, 0)), (3.5, 4, 2.5))
        img = 80.0 * body + 120.0 * organ1 + 60.0 * organ2
        img += np.random.default_rng(i).normal(0, 2, shape)
        lab = np.zeros(shape, np.uint8)
        lab[organ1] = 1
        lab[organ2] = 2
        nib.save(
            nib.Nifti1Image(img.astype(np.float32), affine), root / "images" / f"{case}.nii.gz"
        )
        nib.save(nib.Nifti1Image(lab, affine), root / "labels" / f"{case}.nii.gz")
    meta = {
        "name": "fake_pack",
        "modality": "MR",
        "labels": {"0": "background", "1": "organ_a", "2": "organ_b"},
        "cases": cases,
    }
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize("setting", ["volume", "slice"])
def test_atlas_bench_on_fake_pack(
    fake_pack: Path, tmp_path: Path, setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "res.json"
    rc = main(
        [
            str(fake_pack),
            "--setting",
            setting,
            "--methods",
            "atlas",
            "--threads",
            "1",
            "--out",
            str(out),
            "--work-dir",
            str(tmp_path / "work"),
        ]
    )
    assert rc == 0
    rep = json.loads(out.read_text())
    assert rep["exemplar"] == "case_a"
    assert rep["test_cases"] == ["case_b", "case_c"]
    assert set(rep["methods"]) == {"atlas", "atlas_affine"}
    atlas = rep["methods"]["atlas"]
    assert [c["case"] for c in atlas["per_case"]] == ["case_b", "case_c"]
    if setting == "volume":
        assert rep["annotated_slice"] is None
        assert atlas["mean_dice"] > 0.7
    else:
        # one painted slice of ~14 (4 mm): the propagated labels cover only a thin slab
        assert rep["annotated_slice"] == 7
        assert 0.0 < atlas["mean_dice"] < 0.6
    # the written exemplar label follows the setting
    ex = np.asarray(nib.load(tmp_path / "work" / f"exemplar_label_{setting}.nii.gz").dataobj)
    assert (ex == 255).any() == (setting == "slice")
    table = capsys.readouterr().out
    assert "mean Dice" in table and "atlas" in table
    assert format_table(rep).splitlines()[0].startswith("pack fake_pack")


def test_bench_merges_methods_already_in_the_results_file(fake_pack: Path, tmp_path: Path) -> None:
    out = tmp_path / "res.json"
    argv = [
        str(fake_pack),
        "--methods",
        "atlas",
        "--threads",
        "1",
        "--no-hd95",
        "--out",
        str(out),
        "--work-dir",
        str(tmp_path / "work"),
    ]
    main(argv)
    # given: the file also holds a method written by another bench process
    rep = json.loads(out.read_text())
    rep["methods"]["elsnet"] = {**rep["methods"]["atlas"], "mean_dice": 0.123}
    out.write_text(json.dumps(rep))
    # when: the atlas is re-run into the same file
    main(argv)
    # then: both are there
    rep = json.loads(out.read_text())
    assert rep["methods"]["elsnet"]["mean_dice"] == 0.123
    assert rep["methods"]["atlas"]["mean_dice"] > 0.7


def test_report_tables_show_each_protocol_run_and_skip_exemplar_studies(tmp_path: Path) -> None:
    from elsnet_core.bench import report_markdown

    def method(mean: float, subset: float | None = None) -> dict:
        m = {"mean_dice": mean, "dice": {"liver": mean}, "mean_hd95": 10.0,
             "hd95_missing": {"liver": 0}, "fit_seconds": 480.0, "predict_seconds": 9.0,
             "device": "cpu", "train_metrics": {"stage1_iters": 600.0, "stage2_iters": 350.0}}
        if subset is not None:
            m["subset_mean_dice"] = subset
        return m

    base = {"setting": "volume", "preset": "fast", "exemplar": "case_00", "test_cases": ["b"],
            "classes": {"1": "liver"}, "protocol_exemplar": True}
    (tmp_path / "p_volume_fast.json").write_text(json.dumps(
        {**base, "pack": "p", "methods": {"elsnet": method(0.7), "atlas": method(0.5)}}))
    (tmp_path / "s_volume_fast.json").write_text(json.dumps(
        {**base, "pack": "s", "methods": {"elsnet": method(0.3, 0.45)}}))
    gpu = method(0.8)
    gpu.update(device="cuda", overrides={"time_budget_s": 330})
    (tmp_path / "p_volume_full.json").write_text(json.dumps(
        {**base, "preset": "full", "pack": "p", "methods": {"elsnet": gpu}}))
    (tmp_path / "p_volume_fast_ex-case_03.json").write_text(json.dumps(
        {**base, "pack": "p", "protocol_exemplar": False, "methods": {"elsnet": method(0.1)}}))
    text = report_markdown(tmp_path)
    assert "| p | volume | fast | 0.700 | 0.500 | not run |" in text
    assert "| s | volume | fast | 0.450 (0.300) |" in text
    # the preset, any config override and the device are part of each summary row
    gpu_row = next(line for line in text.splitlines() if "| full (time_budget_s=330) |" in line)
    assert gpu_row.startswith("| p | volume |") and "0.800" in gpu_row and gpu_row.endswith("| cuda |")
    assert "600 + 350" in text
    assert "0.100" not in text  # exemplar-variance runs are not protocol results


def test_ablations_add_the_completion_ablation_in_the_slice_setting_only() -> None:
    from elsnet_core.bench import ABLATIONS, _method_list, build_parser

    def methods(*argv: str) -> list[str]:
        return _method_list(build_parser().parse_args(["pack", *argv]))

    assert methods("--ablations") == ["elsnet", *ABLATIONS]
    assert methods("--ablations", "--setting", "slice") == [
        "elsnet", *ABLATIONS, "elsnet_no_completion"]
    assert methods("--setting", "slice") == ["elsnet"]
