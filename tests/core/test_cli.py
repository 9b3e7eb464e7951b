"""CLI: predict writes one label map per input on that input's grid; rank lists studies best first; errors exit non-zero."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import torch

from elsnet_core.artifact import Plan, save_model
from elsnet_core.cli import main
from elsnet_core.config import make_config
from elsnet_core.model import build_elsnet
from tests.core.helpers import blob_case, oblique_affine, write_case


def test_predict_writes_label_maps_on_each_input_grid(tmp_path, capsys):
    cfg = make_config("tiny")
    torch.manual_seed(0)
    model_dir = save_model(tmp_path / "model", build_elsnet(cfg, 3), cfg,
                           Plan("MR", 1.5, 3), {1: "a", 2: "b"}, {}, seed=0)
    inputs = tmp_path / "in"
    shapes = {}
    for i, shape in enumerate([(40, 36, 8), (33, 41, 5)]):
        img, _ = blob_case(shape=shape, seed=i)
        write_case(inputs, f"s{i}", img, None, oblique_affine(angle_deg=10 * i))
        shapes[f"s{i}.nii.gz"] = shape
    rc = main(["predict", "--model", str(model_dir), "--out", str(tmp_path / "out"),
               "--device", "cpu", str(inputs)])
    assert rc == 0
    for name, shape in shapes.items():
        out = nib.load(str(tmp_path / "out" / name))
        src = nib.load(str(inputs / name))
        assert out.shape == shape
        np.testing.assert_allclose(out.affine, src.affine, atol=1e-6)
        assert out.get_data_dtype() == np.uint8
    assert "confidence" in capsys.readouterr().out


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    rc = main(["predict", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"),
               str(tmp_path)])
    assert rc == 2
    assert "config.json" in capsys.readouterr().err


def test_repeated_unlabeled_flags_accumulate():
    from elsnet_core.cli import build_parser

    args = build_parser().parse_args(
        ["fit", "--image", "ex.nii.gz", "--label", "lab.nii.gz", "--out", "m",
         "--unlabeled", "a.nii.gz", "b.nii.gz", "--unlabeled", "c"])
    assert args.unlabeled == ["a.nii.gz", "b.nii.gz", "c"]
    args = build_parser().parse_args(["fit", "--image", "e", "--label", "l", "--out", "m"])
    assert args.unlabeled == []


def test_rank_lists_the_studies_best_first_and_the_odd_one_last(tmp_path, capsys):
    inputs = tmp_path / "cohort"
    aff = np.diag([4.0, 4.0, 6.0, 1.0])
    for i in range(3):
        write_case(inputs, f"typical_{i}", blob_case(shift=(i % 2, -(i % 3)), seed=i)[0], None, aff)
    odd = blob_case(seed=9)[0]
    write_case(inputs, "odd", np.where(odd > 500, 100.0, np.where(odd > 200, 800.0, odd)).astype(np.float32), None, aff)
    assert main(["rank", str(inputs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["1", "2", "3", "4"]
    assert lines[0].endswith("<- annotate this one") and "typical_" in lines[0]
    assert lines[-1].split()[-1].endswith("odd.nii.gz")
    # one study has nothing to be ranked against
    assert main(["rank", str(inputs / "odd.nii.gz")]) == 2
    assert "at least 2 studies" in capsys.readouterr().err
