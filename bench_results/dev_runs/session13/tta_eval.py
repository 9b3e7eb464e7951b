"""Post-hoc test-time variants on a trained model, protocol test cases (no retraining).

usage: tta_eval.py PACK MODEL_DIR [VARIANT ...]
Variants: name=scales, scales a comma list of in-plane zoom factors added to the prediction
(flip TTA and largest-component post-processing as the preset has them), e.g.
  base=  s875=0.875,1.125  s8=0.8,1.2  s9=0.9,1.1  up=1.125  down=0.875
Prints mean Dice per variant (and the 8-organ mean on synapse_ct) and per-class Dice, and the
predict time over all test cases.
"""
import sys, time
from pathlib import Path
import numpy as np
import nibabel as nib
from elsnet_core.bench import Pack, protocol_split
from elsnet_core.metrics import SYNAPSE_8_ORGANS, aggregate, evaluate_case
from elsnet_core.predictor import Predictor, infer_probs, largest_component_per_class
from elsnet_core.preprocess import WorkingGrid, normalize_intensity

pack = Pack.open(Path(sys.argv[1]))
pred = Predictor.load(sys.argv[2], device="cpu")
variants = dict(a.split("=") for a in sys.argv[3:]) or {"base": ""}
split = protocol_split(pack.cases)
cfg, plan = pred.cfg, pred.plan
data = []
for case in split.test:
    img, sp = pack.image(case)
    aff = nib.load(pack.image_path(case)).affine
    norm = normalize_intensity(img, plan.modality, cfg.ct_window, cfg.mr_percentiles)
    grid = WorkingGrid.plan(aff, norm.shape, norm, cfg.size, plan.pixel_mm,
                            (plan.offset_mm[0], plan.offset_mm[1]))
    data.append((case, grid, grid.to_working(norm), pack.label(case), sp))
subset = SYNAPSE_8_ORGANS if "synapse" in pack.name else None
for name, spec in variants.items():
    scales = tuple(float(v) for v in spec.split(",") if v)
    t0, cases = time.perf_counter(), []
    for case, grid, work, truth, sp in data:
        probs = infer_probs(pred.model, work, cfg.context, pred.device, tta=cfg.tta,
                            amp=cfg.amp, scales=scales)
        labels, _ = grid.probs_to_original(probs)
        if cfg.lcc:
            labels = largest_component_per_class(labels)
        cases.append(evaluate_case(labels, truth, sp, pack.classes, case=case, with_hd95=False))
    agg = aggregate(cases, pack.classes, subset=subset)
    extra = f" 8-organ {agg['subset_mean_dice']:.3f}" if subset else ""
    per = " ".join(f"{k[:8]} {v:.3f}" for k, v in agg["dice"].items() if v is not None)
    print(f"{name:8s} scales={scales} mean {agg['mean_dice']:.3f}{extra} "
          f"({time.perf_counter() - t0:.1f} s) | {per}", flush=True)
