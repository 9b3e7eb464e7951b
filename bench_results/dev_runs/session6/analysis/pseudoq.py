"""Pseudo-label quality of a stage-1 model (slice setting, session 6), on the current code.

Rows: "largest" = elsnet_core.pseudo.select_confident as it is (largest 3D component per
organ); "anchored" = the same with the tried-and-reverted rule of commit 175e2e5 (keep the
component registration overlaps when the largest lies wholly > DMM mm, default 20, from
every registered voxel of the organ), patched in below; "gate_ign" / "gate_bg" = anchored
plus the tried intensity gate (outliers unknown / background).
Usage: python pseudoq.py PACK STAGE1_MODEL_DIR EXEMPLAR_SLICE_LABEL.nii.gz [DMM=40 env]"""
import sys, json, numpy as np, nibabel as nib, torch
from pathlib import Path
torch.set_num_threads(1)
from elsnet_core.predictor import Predictor, infer_probs
from elsnet_core.io import load_volume, load_label
from elsnet_core.preprocess import normalize_intensity, WorkingGrid
from elsnet_core.synthesis import cohort_bank
from elsnet_core import pseudo
from elsnet_core.losses import IGNORE
pack=Path(sys.argv[1]); P=Predictor.load(sys.argv[2],"cpu"); exlab=sys.argv[3]
cfg,plan=P.cfg,P.plan
cases=sorted(json.load(open(pack/"dataset.json"))["cases"])
def study(case, labpath=None):
    v=load_volume(next((pack/"images").glob(case+"*")))
    n=normalize_intensity(v.array,plan.modality,cfg.ct_window,cfg.mr_percentiles)
    g=WorkingGrid.plan(v.affine,v.shape,n,cfg.size,plan.pixel_mm,plan.offset_mm)
    lab=load_label(labpath or next((pack/"labels").glob(case+"*")),v)
    wl=g.to_working(lab.astype(np.float32),nearest=True,fill=IGNORE).round().astype(np.uint8)
    return g.to_working(n), wl, g.working_spacing(v.spacing[2])
ex_img,ex_lab,ex_sp=study(cases[0],exlab)
tests=[study(c) for c in cases[1:]]
_,props=cohort_bank(ex_img,ex_lab,[t[0] for t in tests],[t[2] for t in tests],ex_sp,plan.n_classes,np.random.default_rng(0),iterations=cfg.reg_iterations,coarse_mm=cfg.reg_coarse_mm,per_organ_intensity=False,styles_per_target=1)
K=plan.n_classes
import os
from scipy import ndimage
largest = pseudo.largest_component_per_class
FAR_MM = float(os.environ.get("DMM", "20"))
SP = (1.0, 1.0, 1.0)  # set per study below: voxel size along (Z, S, S)
PROP = None  # set per study below: registration-propagated labels


def anchored(labels, fill=0):
    """largest_component_per_class with the registration-anchored choice (reverted rule)."""
    out = labels.copy()
    for c in np.unique(labels):
        if c in (0, IGNORE):
            continue
        m = labels == c
        comp, n = ndimage.label(m, np.ones((3, 3, 3)))
        idx = np.arange(1, n + 1)
        best = int(np.argmax(ndimage.sum(m, comp, index=idx))) + 1
        reg = PROP == c
        ov = ndimage.sum(reg, comp, index=idx)
        if n > 1 and ov.max(initial=0) > 0 and ov[best - 1] == 0:
            d = ndimage.distance_transform_edt(~reg, sampling=SP)
            if d[comp == best].min() > FAR_MM:
                best = int(np.argmax(ov)) + 1
        out[m & (comp != best)] = fill
    return out


res = {"largest": [], "anchored": [], "gate_ign": [], "gate_bg": []}
for (img, gt, SP0), prop in zip(tests, props):
    SP, PROP = (SP0[2], SP0[0], SP0[1]), prop
    probs = infer_probs(P.model, img, cfg.context, torch.device("cpu"), tta=True, amp=cfg.amp)
    for mode in res:
        pseudo.largest_component_per_class = largest if mode == "largest" else anchored
        lab, _, _ = pseudo.select_confident(probs, cfg.pseudo_threshold, prop, agree_threshold=0.6)
        if mode.startswith("gate"):
            sm = ndimage.gaussian_filter(img, (0, 1, 1))
            am = probs.argmax(1).numpy()
            for c in range(1, K):
                seed = (prop == c) & (am == c)
                if seed.sum() < 30:
                    continue
                lo, hi = np.percentile(sm[seed], [2, 98])
                pad = 0.25 * (hi - lo)
                bad = (lab == c) & ((sm < lo - pad) | (sm > hi + pad))
                lab[bad] = IGNORE if mode == "gate_ign" else 0
        row = []
        for c in range(1, K):
            k = lab == c
            g = (gt == c) & (lab != IGNORE)
            tot = k.sum() + g.sum()
            row.append(2 * (k & g).sum() / tot if tot else np.nan)
        res[mode].append(row)
for m,v in res.items():
    a=np.nanmean(np.array(v,float),0); print(m, a.round(3), np.nanmean(a).round(3))
