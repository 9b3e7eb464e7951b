"""Draw the random-walk completion of a one-slice exemplar (docs figure).

    .venv/bin/python scripts/figure_completion.py samples/chaos_mr_t2 docs/figures/completion_chaos.png \
        [--models NO_COMPLETION_MODEL COMPLETION_MODEL]

The pack's first case is the exemplar, painted on the protocol's slice only. Row 1: its
expert label at six levels (the painted one marked by a white bar). Row 2: what
:func:`elsnet_core.completion.complete_label` makes of the painted slice, at the fit's
settings, on the exemplar's grid with in-plane pixels doubled (about the working
resolution); voxels it leaves unannotated (255) are darkened. With ``--models``, rows 3-5
show the second case: its expert label, then the prediction of each model (trained without
and with the completion). CHAOS cases are CC BY-SA 4.0 (samples/chaos_mr_t2/LICENSE.md); do
not draw the research-only packs for the docs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np
from figure_synthesis import _tile
from PIL import Image

from elsnet_core import Predictor
from elsnet_core.bench import select_annotated_slice, slice_setting_label
from elsnet_core.completion import CompletionSettings, complete_label
from elsnet_core.config import make_config
from elsnet_core.losses import IGNORE
from elsnet_core.preprocess import detect_modality, normalize_intensity


def _levels(label: np.ndarray, painted: int, n: int = 6) -> list[int]:
    """n slices from the organs' lowest slice to their highest, the painted one included."""
    zs = np.flatnonzero(label.any(axis=(0, 1)))
    levels = np.linspace(int(zs.min()), int(zs.max()), n - 1).round().astype(int).tolist()
    return sorted({*levels, painted})


def _row(img: np.ndarray, lab: np.ndarray, levels: list[int], painted: int | None = None
         ) -> np.ndarray:
    tiles = []
    for z in levels:
        unknown = lab[:, :, z] == IGNORE
        t = _tile(np.where(unknown, img[:, :, z] * 0.35, img[:, :, z]),
                  np.where(unknown, 0, lab[:, :, z])).copy()
        if z == painted:
            t[:4] = 255
        tiles.append(t)
    return np.concatenate(tiles, axis=1)


def _load(pack: Path, case: str) -> tuple[nib.Nifti1Image, np.ndarray, np.ndarray]:
    im = nib.Nifti1Image.from_filename(str(pack / "images" / f"{case}.nii.gz"))
    img = np.asarray(im.dataobj, dtype=np.float32)
    lab = np.asarray(nib.load(pack / "labels" / f"{case}.nii.gz").dataobj).astype(np.uint8)
    return im, normalize_intensity(img, detect_modality(img)), lab


def main(pack: Path, out: Path, models: list[Path]) -> None:
    cases = sorted(json.loads((pack / "dataset.json").read_text())["cases"])
    im, img, truth = _load(pack, cases[0])
    painted_lab, z0 = slice_setting_label(truth)
    cfg = make_config("fast")
    spacing = [float(v) for v in im.header.get_zooms()[:3]]
    # (Z, H, W) at doubled in-plane pixels, as complete_label expects
    sub = np.ascontiguousarray(img[::2, ::2, :].transpose(2, 0, 1))
    seeds = np.ascontiguousarray(painted_lab[::2, ::2, :].transpose(2, 0, 1))
    done = complete_label(sub, seeds, (spacing[2], 2 * spacing[0], 2 * spacing[1]),
                          CompletionSettings(cfg.completion_beta, cfg.completion_threshold))
    done = np.repeat(np.repeat(done.transpose(1, 2, 0), 2, axis=0), 2, axis=1)
    done = done[: truth.shape[0], : truth.shape[1]]
    levels = _levels(truth, z0)
    rows = [_row(img, truth, levels, z0), _row(img, done, levels, z0)]
    if models:
        _, img2, truth2 = _load(pack, cases[1])
        lv2 = _levels(truth2, select_annotated_slice(truth2))
        rows.append(_row(img2, truth2, lv2))
        for m in models:
            pred = Predictor.load(m, device="cpu").predict_file(
                pack / "images" / f"{cases[1]}.nii.gz")
            rows.append(_row(img2, pred.labels, lv2))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(out)
    print(f"wrote {out} (painted slice {z0}, levels {levels})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pack", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", nargs=2, type=Path, default=[],
                    metavar=("NO_COMPLETION", "COMPLETION"))
    a = ap.parse_args()
    main(a.pack, a.out, a.models)
