"""CLI: predict writes one label map per input on that input's grid; errors exit non-zero."""

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
