"""Where a model's errors lie, per organ over a pack's protocol test cases: false positives
near the true organ (<= NEAR mm, boundary error) or far from it (gross error), and false
negatives by what was predicted instead. Usage: python errana.py PACK MODEL_DIR [NEAR_MM]"""
import json, sys
from pathlib import Path
import nibabel as nib, numpy as np
from scipy import ndimage as ndi
from elsnet_core.bench import protocol_split
from elsnet_core.predictor import Predictor
pack = Path(sys.argv[1]); near = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
ds = json.load(open(pack / "dataset.json"))
names = {int(k): v for k, v in (ds.get("labels") or ds["classes"]).items() if int(k) > 0}
P = Predictor.load(sys.argv[2], "cpu")
tot = {k: dict(gt=0, tp=0, fp_near=0, fp_far=0, fn_bg=0, fn_other=0) for k in names}
conf = np.zeros((len(names) + 1, len(names) + 1), np.int64)  # [true, predicted]
for case in protocol_split(sorted(ds["cases"])).test:
    img = next((pack / "images").glob(case + ".nii*"))
    lab = nib.load(next((pack / "labels").glob(case + ".nii*")))
    gt = np.asarray(lab.dataobj).astype(int); sp = lab.header.get_zooms()[:3]
    pred = P.predict_file(img).labels
    conf += np.bincount(gt.ravel() * (len(names) + 1) + np.minimum(pred.ravel(), len(names)), minlength=conf.size).reshape(conf.shape)
    row = []
    for k, n in names.items():
        g, p = gt == k, pred == k
        d = ndi.distance_transform_edt(~g, sampling=sp) if g.any() else np.full(g.shape, 1e9)
        fp = p & ~g; fn = g & ~p
        t = tot[k]; t["gt"] += g.sum(); t["tp"] += (p & g).sum()
        t["fp_near"] += (fp & (d <= near)).sum(); t["fp_far"] += (fp & (d > near)).sum()
        t["fn_bg"] += (fn & (pred == 0)).sum(); t["fn_other"] += (fn & (pred > 0)).sum()
        dice = 2 * (p & g).sum() / max(p.sum() + g.sum(), 1)
        row.append(f"{n[:8]} {dice:.2f} far {(fp & (d > near)).sum() / max(g.sum(), 1):.2f}")
    print(case, " | ".join(row), flush=True)
print(f"\nper organ, as a fraction of the true volume (near = within {near:g} mm of the true organ)")
for k, t in tot.items():
    g = max(t["gt"], 1)
    print(f"{names[k]:26s} TP {t['tp']/g:.2f}  FP near {t['fp_near']/g:.2f}  FP far {t['fp_far']/g:.2f}  "
          f"FN as bg {t['fn_bg']/g:.2f}  FN as other organ {t['fn_other']/g:.2f}")
print("\nconfusion, rows = true label, columns = predicted, as a fraction of the true volume (row 0: of the predicted organ volume)")
print("".ljust(26) + "".join(f"{(['background'] + list(names.values()))[j][:10]:>11s}" for j in range(len(names) + 1)))
for i in range(len(names) + 1):
    den = conf[i].sum() if i else None
    vals = [conf[i, j] / (den if i else max(conf[:, j].sum(), 1)) for j in range(len(names) + 1)]
    print((["background"] + list(names.values()))[i].ljust(26) + "".join(f"{v:11.3f}" for v in vals))
