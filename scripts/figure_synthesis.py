"""Draw what the exemplar-guided synthesis makes of one exemplar (docs figure).

    .venv/bin/python scripts/figure_synthesis.py samples/chaos_mr_t2 docs/figures/synthesis_chaos.png

The pack's first case is the exemplar, the others its unlabeled cohort. Row 1: the
exemplar's slice with the most organs, then for each cohort study the exemplar carried onto
it by registration (its real deformation) in its own appearance, beside the study's true
slice at that level (what the synthetic sample imitates). Row 2: training samples as stage 1
draws them from the exemplar slice (random affine + elastic grid, strong appearance
changes). Row 3: ``scale_organs`` alone (``organ_scale``, off by default): the exemplar's
three smallest organs in turn grown (x1.4) and shrunk (/1.4). Labels drawn over the image.
CHAOS cases are CC BY-SA 4.0 (samples/chaos_mr_t2/LICENSE.md); do not draw the
research-only packs for the docs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from elsnet_core.bench import select_annotated_slice
from elsnet_core.registration import normalise_intensity, register
from elsnet_core.synthesis import augment, intensity_transfer, scale_organs, warp_pair

COLOURS = np.array([[0, 0, 0], [230, 60, 60], [60, 200, 60], [70, 110, 255], [250, 220, 0],
                    [255, 0, 255], [0, 230, 230], [255, 128, 0], [128, 0, 255]], dtype=float)
SIZE = 160


def overlay(img: np.ndarray, lab: np.ndarray) -> np.ndarray:
    rgb = np.repeat((np.clip(img, 0, 1) * 255)[..., None], 3, axis=-1)
    m = (lab > 0) & (lab < len(COLOURS))
    rgb[m] = 0.6 * rgb[m] + 0.4 * COLOURS[lab[m]]
    # organ outlines in full colour
    edge = np.zeros_like(m)
    edge[1:, :] |= lab[1:, :] != lab[:-1, :]
    edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    e = edge & m
    rgb[e] = COLOURS[lab[e]]
    return np.rot90(rgb).astype(np.uint8)


def identity(n: int) -> torch.Tensor:
    theta = torch.eye(2, 3, dtype=torch.float32).repeat(n, 1, 1)
    return F.affine_grid(theta, [n, 1, SIZE, SIZE], align_corners=True)


def _tile(img2d: np.ndarray, lab2d: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(img2d.astype(np.float32))[None, None]
    y = torch.from_numpy(lab2d.astype(np.float32))[None, None]
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=True)
    y = F.interpolate(y, size=(SIZE, SIZE), mode="nearest")
    return overlay(x[0, 0].numpy(), y[0, 0].numpy().astype(np.int64))


def _load(pack: Path, case: str) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    im = nib.Nifti1Image.from_filename(str(pack / "images" / f"{case}.nii.gz"))
    lab = nib.Nifti1Image.from_filename(str(pack / "labels" / f"{case}.nii.gz"))
    spacing = tuple(float(v) for v in im.header.get_zooms()[:3])
    return (normalise_intensity(np.asarray(im.dataobj, dtype=np.float32)),
            np.asarray(lab.dataobj).astype(np.int64), spacing)


def main(pack: Path, out: Path) -> None:
    cases = sorted(json.loads((pack / "dataset.json").read_text())["cases"])
    ex_img, ex_lab, ex_sp = _load(pack, cases[0])
    n_classes = int(ex_lab.max()) + 1
    z = select_annotated_slice(ex_lab)
    exemplar_tile = _tile(ex_img[:, :, z], ex_lab[:, :, z])

    # row 1: the exemplar carried onto each cohort study, in that study's appearance
    row1 = [exemplar_tile]
    for case in cases[1:4]:
        img, lab, sp = _load(pack, case)
        res = register(img, ex_img, sp, ex_sp, deformable=True, coarse_spacing_mm=6.0,
                       iterations=20)
        prop = np.asarray(res.warp(ex_lab.astype(np.uint8), order=0)).astype(np.int64)
        to_zxy = (2, 0, 1)
        styled = intensity_transfer(np.transpose(ex_img, to_zxy), np.transpose(ex_lab, to_zxy),
                                    np.transpose(img, to_zxy), np.transpose(prop, to_zxy),
                                    n_classes)
        synth = np.asarray(res.warp(np.transpose(styled, (1, 2, 0)), order=1))
        zc = select_annotated_slice(prop)
        row1 += [_tile(synth[:, :, zc], prop[:, :, zc]), _tile(img[:, :, zc], lab[:, :, zc])]
    n = len(row1)

    # row 2: random transforms of the exemplar slice, as stage 1 draws them
    x = torch.from_numpy(ex_img[:, :, z])[None, None]
    y = torch.from_numpy(ex_lab[:, :, z])[None, None].float()
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=True)
    y = F.interpolate(y, size=(SIZE, SIZE), mode="nearest")[:, 0].long()
    gen = torch.Generator().manual_seed(7)
    xb, yb = augment(x.repeat(n - 1, 1, 1, 1), y.repeat(n - 1, 1, 1), gen, strong=True)
    row2 = [exemplar_tile] + [overlay(xb[i, 0].numpy(), yb[i].numpy()) for i in range(n - 1)]

    # row 3: organ_scale alone, each of the three smallest organs grown and shrunk
    row3 = [exemplar_tile]
    organs = sorted((int(c) for c in torch.unique(y) if int(c) > 0),
                    key=lambda c: int((y == c).sum()))
    for c in organs[:3]:
        for s in (1.4, 1 / 1.4):
            wi, wl = warp_pair(x, y, scale_organs(identity(1), y, [c], torch.tensor([s])))
            row3.append(overlay(wi[0, 0].numpy(), wl[0].numpy()))
    row3 += [np.zeros_like(exemplar_tile)] * (n - len(row3))
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([np.concatenate(r, 1) for r in (row1, row2, row3)], 0)
                    ).save(out)
    print(f"wrote {out} (exemplar {cases[0]}, slice {z})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
