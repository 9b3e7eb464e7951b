"""Stage-1 pseudo-labels (cached by a fit's --work-dir) against the truth, as they are and
with an organ-organ disagreement rule: a kept voxel the network calls organ a, lying more
than D mm from every registration-propagated voxel of a, where registration says organ
b != a, is ignored ("ign") or given b ("reg"). Working grid; Dice over kept voxels.
Usage: python pseudo_rule.py PACK MODEL_DIR WORK_DIR (volume setting, protocol order)"""
import glob, json, sys
from pathlib import Path
import numpy as np
from scipy import ndimage
from elsnet_core.io import load_label, load_volume
from elsnet_core.losses import IGNORE
from elsnet_core.predictor import Predictor
from elsnet_core.preprocess import WorkingGrid, normalize_intensity
pack = Path(sys.argv[1]); P = Predictor.load(sys.argv[2], "cpu"); cfg, plan = P.cfg, P.plan
ps = np.load(glob.glob(sys.argv[3] + "/pseudo_*_r0.npz")[0]); sy = np.load(glob.glob(sys.argv[3] + "/synthesis_*.npz")[0])
cases = sorted(json.load(open(pack / "dataset.json"))["cases"])[1:]
K = plan.n_classes
def score(lab, gt):
    row = []
    for c in range(1, K):
        k = lab == c; g = (gt == c) & (lab != IGNORE); t = k.sum() + g.sum()
        row.append(2 * (k & g).sum() / t if t else np.nan)
    return row
res = {}
tab = np.zeros((K, K + 1))  # truth -> pseudo-label (classes 0..K-1, ignored), all studies
for j, case in enumerate(cases):
    v = load_volume(next((pack / "images").glob(case + "*")))
    n = normalize_intensity(v.array, plan.modality, cfg.ct_window, cfg.mr_percentiles)
    g = WorkingGrid.plan(v.affine, v.shape, n, cfg.size, plan.pixel_mm, plan.offset_mm)
    gt = g.to_working(load_label(next((pack / "labels").glob(case + "*")), v).astype(np.float32), nearest=True, fill=IGNORE).round().astype(np.uint8)
    sp = g.working_spacing(v.spacing[2]); sp = (sp[2], sp[0], sp[1])
    lab, prop = ps[f"lab{j}"], sy[f"prop{j}"]
    res.setdefault("base", []).append(score(lab, gt))
    for c in range(1, K):
        m = gt == c
        tab[c, :K] += np.bincount(lab[m][lab[m] != IGNORE], minlength=K)[:K]; tab[c, K] += (lab[m] == IGNORE).sum()
    for D in (0, 5, 10):
        far = np.zeros(lab.shape, bool)
        for a in range(1, K):
            reg_a = prop == a
            d = ndimage.distance_transform_edt(~reg_a, sampling=sp) if reg_a.any() else np.full(lab.shape, 1e9)
            far |= (lab == a) & (d > D)
        flag = far & (prop > 0) & (prop != IGNORE) & (prop != lab)
        ign = lab.copy(); ign[flag] = IGNORE
        reg = lab.copy(); reg[flag] = prop[flag]
        res.setdefault(f"ign{D}", []).append(score(ign, gt)); res.setdefault(f"reg{D}", []).append(score(reg, gt))
        if D == 0:
            print(case, "flagged", int(flag.sum()), "by network class", np.bincount(lab[flag], minlength=K)[1:K], "truth there", np.bincount(np.minimum(gt[flag], K), minlength=K + 1)[:K + 1], flush=True)
for m, v in res.items():
    a = np.nanmean(np.array(v, float), 0); print(m.ljust(6), a.round(3), np.nanmean(a).round(3))
print("truth -> pseudo-label (columns: classes 0..K-1, ignored)")
for c in range(1, K):
    print(c, (tab[c] / tab[c].sum()).round(3))
