"""Every exemplar candidate registered to every other study of a pack (the atlas pipeline of
elsnet_core.registration, as `elsnet bench --methods atlas` runs it): per ordered pair the
atlas Dice (needs the labels: the 'truth' of how good a candidate is) and label-free
quantities a service could compute (post-registration image similarity, deformation size).
Writes one JSON line per pair. (The session-24 files were written with background (class 0)
in "dice" and "mean" (an operator-precedence slip, fixed since); the analyses recompute the
foreground mean from "dice" without "0" (organ_mean).) Usage: pairs.py PACK OUT.jsonl [candidates...]"""
import json, sys, time
from pathlib import Path
import numpy as np
from elsnet_core.io import load_volume
from elsnet_core.registration import register, normalise_intensity
from elsnet_core.metrics import dice

DATA = Path("../shared/data")
pack, out = sys.argv[1], Path(sys.argv[2])
meta = json.loads((DATA / pack / "dataset.json").read_text())
cases = sorted(meta["cases"])
n_classes = len(meta["labels"]) - 1 if isinstance(meta["labels"], (list, dict)) else None
cands = sys.argv[3:] or cases
done = set()
if out.exists():
    done = {(r["a"], r["b"]) for r in map(json.loads, out.read_text().splitlines())}
patient = lambda c: c.split("_frame")[0]
cache = {}
def get(c):
    if c not in cache:
        v = load_volume(DATA / pack / "images" / f"{c}.nii.gz")
        lab = np.asarray(__import__("nibabel").load(str(DATA / pack / "labels" / f"{c}.nii.gz")).dataobj).astype(np.uint8)
        cache[c] = (v, lab)
    return cache[c]
for a in cands:
    va, la = get(a)
    for b in cases:
        if b == a or patient(b) == patient(a) or (a, b) in done:
            continue
        vb, lb = get(b)
        t = time.time()
        r = register(vb.array, va.array, vb.spacing, va.spacing, seed=0, threads=2)
        warped = r.warp_label(la)
        img = r.warp(normalise_intensity(va.array))
        fix = normalise_intensity(vb.array)
        m = (img > 0.02) | (fix > 0.02)
        x, y = img[m] - img[m].mean(), fix[m] - fix[m].mean()
        ncc = float((x * y).sum() / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-8))
        aff_ncc = None
        d = r.deformable_displacement
        defo = float(np.linalg.norm(d, axis=-1).mean())
        logdet = float(np.log(abs(np.linalg.det(r.affine_matrix[:3, :3]))))
        classes = sorted((set(np.unique(la)) | set(np.unique(lb))) - {0})
        ds = {int(k): dice(warped == k, lb == k) for k in classes}
        row = {"a": a, "b": b, "dice": ds, "mean": float(np.mean([v for v in ds.values() if v is not None])),
               "ncc": ncc, "mi": float(r.metric_value), "deform_mm": defo, "logdet": logdet,
               "s": round(time.time() - t, 1)}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(a, b, f"{row['mean']:.3f} ncc {ncc:.3f} mi {row['mi']:.3f} def {defo:.1f} {row['s']} s", flush=True)
