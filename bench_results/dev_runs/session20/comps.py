"""Per organ: the raw prediction's components (size, centre mm, Dice with truth), one case."""
import json, sys
import nibabel as nib, numpy as np
from scipy import ndimage
sys.path.insert(0, "/work/main")
from elsnet_core.io import load_volume
from elsnet_core.predictor import Predictor, predict_volume
pack, md, case = sys.argv[1:4]
meta = json.load(open(f"{pack}/dataset.json")); classes = {int(k): v for k, v in meta["labels"].items() if int(k)}
pr = Predictor.load(md, device="cpu")
v = load_volume(f"{pack}/images/{case}.nii.gz")
out, _ = predict_volume(pr.model, pr.cfg, pr.plan, v.array, v.affine, pr.device, lcc=False)
raw = np.asarray(out.labels); truth = np.asarray(nib.load(f"{pack}/labels/{case}.nii.gz").dataobj)
sp = np.abs(np.diag(v.affine)[:3])
np.save(f"/work/runs/s20/raw_{case}.npy", raw)
for c, n in classes.items():
    m = raw == c; t = truth == c
    lab, k = ndimage.label(m, np.ones((3, 3, 3), bool))
    tc = np.array(ndimage.center_of_mass(t)) * sp if t.any() else None
    print(f"{n}: truth {t.sum()} vox centre {None if tc is None else tc.round(0)}; {k} comps")
    if k:
        sizes = ndimage.sum(m, lab, range(1, k + 1)); order = np.argsort(-sizes)[:5]
        for i in order:
            cm = lab == i + 1; ce = np.array(ndimage.center_of_mass(cm)) * sp
            d = 2 * (cm & t).sum() / (cm.sum() + t.sum())
            print(f"   size {int(sizes[i]):7d} centre {ce.round(0)} dice {d:.3f}")
