"""Where do slice-setting errors live? Per organ: Dice, Dice after an oracle z-crop to the
true extent, FP voxels outside vs inside the true z extent."""
import json, sys
from pathlib import Path
import numpy as np, nibabel as nib
from elsnet_core import Predictor
from elsnet_core.metrics import dice
pack = Path(sys.argv[1]); model = sys.argv[2]
ds = json.loads((pack / "dataset.json").read_text())
cases = sorted(ds["cases"])
classes = {int(k): v for k, v in ds["labels"].items() if int(k) > 0}
pred = Predictor.load(model, device="cpu")
ex_sub = cases[0].split("_frame")[0]
rows = {c: [] for c in classes}
for case in cases[1:]:
    if case.split("_frame")[0] == ex_sub and "_frame" in case:
        continue
    p = pred.predict_file(pack / "images" / f"{case}.nii.gz").labels
    t = np.asarray(nib.load(pack / "labels" / f"{case}.nii.gz").dataobj).astype(np.uint8)
    for c in classes:
        pm, tm = p == c, t == c
        if not pm.any() and not tm.any():
            continue
        d = dice(pm, tm) or 0.0
        zt = np.flatnonzero(tm.any(axis=(0, 1)))
        zp = np.flatnonzero(pm.any(axis=(0, 1)))
        if len(zt):
            inside = np.zeros(p.shape[2], bool); inside[zt.min():zt.max() + 1] = True
        else:
            inside = np.zeros(p.shape[2], bool)
        pc = pm & inside[None, None, :]
        dc = dice(pc, tm) or 0.0
        fp_out = int((pm & ~inside[None, None, :]).sum()); fp_in = int((pm & ~tm & inside[None, None, :]).sum())
        fn = int((tm & ~pm).sum())
        rows[c].append((d, dc))
        print(f"{case} {classes[c]:15s} dice {d:.3f} zcrop {dc:.3f} true z {zt.min() if len(zt) else -1}-{zt.max() if len(zt) else -1} pred z {zp.min() if len(zp) else -1}-{zp.max() if len(zp) else -1} "
              f"fp_out {fp_out} fp_in {fp_in} fn {fn} tp {int((pm&tm).sum())}")
print("mean dice", np.mean([np.mean([r[0] for r in v]) for v in rows.values() if v]),
      "oracle z-crop", np.mean([np.mean([r[1] for r in v]) for v in rows.values() if v]))
for c, v in rows.items():
    if v:
        print(f"{classes[c]:15s} {np.mean([r[0] for r in v]):.3f} -> {np.mean([r[1] for r in v]):.3f}")
