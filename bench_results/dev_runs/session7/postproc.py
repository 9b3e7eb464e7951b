"""Prediction-time variants on a trained model, scored on a pack's protocol test cases like
`elsnet bench` (Dice, no HD95): probabilities are computed once per case, then each variant
post-processes them. Usage: python postproc.py PACK MODEL_DIR"""
import json, sys, time
from pathlib import Path
import nibabel as nib, numpy as np, torch
from scipy import ndimage as ndi
from elsnet_core.bench import SYNAPSE_8_ORGANS, protocol_split
from elsnet_core.metrics import aggregate, evaluate_case
from elsnet_core.predictor import Predictor, infer_probs, largest_component_per_class
from elsnet_core.preprocess import WorkingGrid, normalize_intensity
from elsnet_core.io import load_volume
torch.set_num_threads(1)
pack = Path(sys.argv[1]); ds = json.load(open(pack / "dataset.json"))
names = {int(k): v for k, v in (ds.get("labels") or ds["classes"]).items() if int(k) > 0}
P = Predictor.load(sys.argv[2], "cpu"); cfg, plan = P.cfg, P.plan

def fill_holes(lab):
    """per organ and slice, background pixels enclosed by the organ become the organ"""
    out = lab.copy()
    for c in np.unique(lab):
        if c == 0:
            continue
        m = lab == c
        for z in range(m.shape[2]):
            if m[:, :, z].any():
                f = ndi.binary_fill_holes(m[:, :, z]) & (out[:, :, z] == 0)
                out[:, :, z][f] = c
    return out

def smooth(probs, s_xy, s_z):
    p = probs.numpy()
    return torch.from_numpy(ndi.gaussian_filter(p, (s_z, 0, s_xy, s_xy)))

VARIANTS = {
    "base": lambda pr, g: largest_component_per_class(g.probs_to_original(pr)[0]),
    "no_lcc": lambda pr, g: g.probs_to_original(pr)[0],
    "holes2d": lambda pr, g: fill_holes(largest_component_per_class(g.probs_to_original(pr)[0])),
    "smooth_xy1": lambda pr, g: largest_component_per_class(g.probs_to_original(smooth(pr, 1.0, 0))[0]),
    "smooth_z05": lambda pr, g: largest_component_per_class(g.probs_to_original(smooth(pr, 0, 0.5))[0]),
    "smooth_xy1_z05": lambda pr, g: largest_component_per_class(g.probs_to_original(smooth(pr, 1.0, 0.5))[0]),
}
scores = {k: [] for k in VARIANTS}
for case in protocol_split(sorted(ds["cases"])).test:
    vol = load_volume(next((pack / "images").glob(case + ".nii*")))
    lab = nib.load(next((pack / "labels").glob(case + ".nii*")))
    gt = np.asarray(lab.dataobj).astype(int); sp = lab.header.get_zooms()[:3]
    norm = normalize_intensity(vol.array, plan.modality, cfg.ct_window, cfg.mr_percentiles)
    g = WorkingGrid.plan(vol.affine, norm.shape, norm, cfg.size, plan.pixel_mm, plan.offset_mm)
    pr = infer_probs(P.model, g.to_working(norm), cfg.context, torch.device("cpu"), tta=cfg.tta, amp=cfg.amp)
    for k, f in VARIANTS.items():
        scores[k].append(evaluate_case(f(pr, g), gt, sp, names, case=case, with_hd95=False))
sub = SYNAPSE_8_ORGANS if "synapse" in pack.name else None
for k, s in scores.items():
    a = aggregate(s, names, subset=sub)
    print(f"{k:16s} mean {a['mean_dice']:.4f}" + (f"  8-organ {a['subset_mean_dice']:.4f}" if sub else "") + "  " +
          " ".join(f"{n[:6]} {v:.3f}" for n, v in a["dice"].items()), flush=True)
