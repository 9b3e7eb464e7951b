"""Session 14 experiment: fuse the network's probabilities with a registration prior.

For each test case of a pack: the kept model (bench work dir) predicts working-grid
probabilities (flip TTA as the predictor does); the exemplar is registered onto the case as fit
does for cohort synthesis (same register(), iterations, grid) and its labels propagated; then
organ c's probability is multiplied by w_c = exp(-max(0, d_c - margin)^2 / (2 s^2)), d_c the
3D distance (mm) to the nearest voxel registration labels c; background keeps weight 1.
Variants (margin, s) are scored with the protocol's Dice after LCC, beside the plain model.

usage: prior_eval.py PACK_DIR MODEL_DIR OUT_JSON [--setting volume]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from elsnet_core.bench import Pack, protocol_split, slice_setting_label
from elsnet_core.config import ElsnetConfig
from elsnet_core.io import load_label, load_volume
from elsnet_core.losses import IGNORE
from elsnet_core.metrics import evaluate_case
from elsnet_core.predictor import Predictor, infer_probs, largest_component_per_class
from elsnet_core.preprocess import WorkingGrid, normalize_intensity
from elsnet_core.synthesis import get_register

VARIANTS = [(m, s) for m in (0.0, 10.0, 20.0) for s in (10.0, 20.0, 40.0)]


def working(pred: Predictor, vol, lab=None):
    cfg, plan = pred.cfg, pred.plan
    norm = normalize_intensity(vol.array, plan.modality, cfg.ct_window, cfg.mr_percentiles)
    grid = WorkingGrid.plan(vol.affine, vol.shape, norm, cfg.size, plan.pixel_mm,
                            (plan.offset_mm[0], plan.offset_mm[1]))
    wl = None
    if lab is not None:
        wl = grid.to_working(lab.astype(np.float32), nearest=True, fill=IGNORE).round().astype(np.uint8)
    return grid, grid.to_working(norm), wl, grid.working_spacing(vol.spacing[2])


def weights(prop: np.ndarray, n_classes: int, sp_zyx, margin: float, s: float) -> np.ndarray:
    w = np.ones((n_classes,) + prop.shape, np.float32)
    for c in range(1, n_classes):
        m = prop == c
        if not m.any():
            continue  # registration has no opinion on this organ
        d = ndimage.distance_transform_edt(~m, sampling=sp_zyx).astype(np.float32)
        w[c] = np.exp(-np.maximum(0.0, d - margin) ** 2 / (2 * s * s))
    return w


def main() -> None:
    pack_dir, model_dir, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    setting = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--setting" else "volume"
    torch.set_num_threads(2)
    pack = Pack.open(pack_dir)
    split = protocol_split(pack.cases)
    pred = Predictor.load(model_dir, device="cpu")
    cfg: ElsnetConfig = pred.cfg
    ex_vol = load_volume(pack.image_path(split.exemplar))
    ex_lab = pack.label(split.exemplar)
    if setting == "slice":
        ex_lab, _ = slice_setting_label(ex_lab)
    _, ex_w, ex_wl, ex_sp = working(pred, ex_vol, ex_lab)
    reg = get_register()
    ex_xyz = np.ascontiguousarray(np.transpose(ex_w, (1, 2, 0)))
    lab_xyz = np.ascontiguousarray(np.transpose(ex_wl, (1, 2, 0)))
    n_c = pred.plan.n_classes
    rows: dict[str, list] = {"plain": [], "atlas": []}
    rows.update({f"m{m:g}_s{s:g}": [] for m, s in VARIANTS})
    for case in split.test:
        t0 = time.time()
        vol = load_volume(pack.image_path(case))
        truth = pack.label(case)
        grid, w, _, sp = working(pred, vol)
        probs = infer_probs(pred.model, w, cfg.context, pred.device, tta=cfg.tta, amp=cfg.amp)
        res = reg(np.ascontiguousarray(np.transpose(w, (1, 2, 0))), ex_xyz, sp, ex_sp,
                  deformable=True, iterations=cfg.reg_iterations,
                  coarse_spacing_mm=cfg.reg_coarse_mm, affine_mode=cfg.reg_affine)
        prop = np.transpose(np.asarray(res.warp(lab_xyz, order=0)), (2, 0, 1)).astype(np.uint8)
        sp_zyx = (sp[2], sp[0], sp[1])

        def score(p: torch.Tensor, name: str) -> None:
            lab, _ = grid.probs_to_original(p)
            lab = largest_component_per_class(lab)
            sc = evaluate_case(lab, truth, vol.spacing, pack.classes, case=case, with_hd95=False)
            rows[name].append({str(k): v for k, v in sc.dice.items()})

        score(probs, "plain")
        onehot = torch.zeros_like(probs)
        pl = torch.from_numpy(np.where(prop == IGNORE, 0, prop).astype(np.int64))
        onehot.scatter_(1, pl[:, None], 1.0)
        score(onehot, "atlas")
        for m, s in VARIANTS:
            wt = torch.from_numpy(weights(prop, n_c, sp_zyx, m, s)).permute(1, 0, 2, 3)
            q = probs * wt
            score(q / q.sum(dim=1, keepdim=True).clamp_min(1e-8), f"m{m:g}_s{s:g}")
        print(case, f"{time.time() - t0:.0f}s",
              {k: round(float(np.mean([v for v in r[-1].values() if v is not None])), 3)
               for k, r in rows.items()}, flush=True)
    summary = {}
    for k, r in rows.items():
        per_class = {}
        for c in r[0]:
            vals = [x[c] for x in r if x[c] is not None]
            per_class[c] = float(np.mean(vals)) if vals else None
        summary[k] = {"mean": float(np.mean([v for v in per_class.values() if v is not None])),
                      "per_class": per_class}
        print(k, round(summary[k]["mean"], 4), {c: round(v, 3) for c, v in per_class.items() if v is not None})
    out.write_text(json.dumps({"pack": pack.name, "model": str(model_dir), "rows": rows,
                               "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
