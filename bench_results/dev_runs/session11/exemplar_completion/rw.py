"""Can a random walker complete the exemplar's label from its one painted slice?"""
import json, sys, time
from pathlib import Path
import numpy as np, nibabel as nib
from scipy import ndimage
from skimage.segmentation import random_walker
from elsnet_core.io import load_volume
from elsnet_core.preprocess import normalize_intensity, detect_modality
from elsnet_core.bench import slice_setting_label
from elsnet_core.metrics import dice
pack = Path(sys.argv[1]); beta = float(sys.argv[2]); thr = float(sys.argv[3])
ds = json.loads((pack / "dataset.json").read_text())
case = sorted(ds["cases"])[0]
vol = load_volume(pack / "images" / f"{case}.nii.gz")
truth = np.asarray(nib.load(pack / "labels" / f"{case}.nii.gz").dataobj).astype(np.uint8)
lab, z0 = slice_setting_label(truth)
mod = detect_modality(vol.array)
img = normalize_intensity(vol.array, mod)
sp = np.abs(np.asarray(vol.spacing, float))
# downsample in-plane by 2 for speed
f = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4].isdigit() else 2
img_s = img[::f, ::f, :]; lab_s = lab[::f, ::f, :]; sp_s = (sp[0]*f, sp[1]*f, sp[2])
seeds = np.zeros(img_s.shape, np.int32)
K = int(truth.max())
known = lab_s != 255
seeds[known] = lab_s[known].astype(np.int32) + 1
if "--air" in sys.argv:
    air = img_s < 0.05
    air = ndimage.binary_erosion(air, iterations=1)
    seeds[air & ~known] = 1
t = time.time()
prob = random_walker(img_s, seeds, beta=beta, mode=(sys.argv[5] if len(sys.argv) > 5 else "cg_j"), tol=1e-3, spacing=(None if '--iso' in sys.argv else sp_s), return_full_prob=True)
dt = time.time() - t
ul = np.unique(seeds[seeds > 0])
pred = (ul[prob.argmax(0)] - 1).astype(np.uint8)
conf = prob.max(0)
tr = truth[::f, ::f, :]
out = []
for c in range(1, K + 1):
    d = dice(pred == c, tr == c)
    keep = conf >= thr
    pc = (pred == c) & keep
    prec = (pc & (tr == c)).sum() / max(pc.sum(), 1)
    cover = (pc & (tr == c)).sum() / max((tr == c).sum(), 1)
    out.append(d or 0)
    print(f"class {c}: dice {d if d is None else round(d,3)} conf>={thr}: precision {prec:.3f} coverage {cover:.3f}")
bgk = (pred == 0) & (conf >= thr)
print(f"bg confident: precision {((tr==0)&bgk).sum()/max(bgk.sum(),1):.3f} share {bgk.mean():.3f}; kept share {(conf>=thr).mean():.3f}")
for th in (0.8, 0.9, 0.95, 0.98, 0.99):
    precs, covs = [], []
    for c in range(1, K + 1):
        pc = (pred == c) & (conf >= th)
        if pc.sum(): precs.append((pc & (tr == c)).sum() / pc.sum()); covs.append((pc & (tr == c)).sum() / max((tr == c).sum(), 1))
    bgk = (pred == 0) & (conf >= th)
    print(f"{pack.name} beta {beta} iso {'--iso' in sys.argv} thr {th}: organ precision mean {np.mean(precs):.3f} min {np.min(precs):.3f} coverage mean {np.mean(covs):.3f}; bg precision {((tr==0)&bgk).sum()/max(bgk.sum(),1):.4f} kept {(conf>=th).mean():.3f}")
print(f"{pack.name} beta {beta}: mean dice {np.mean(out):.3f} time {dt:.1f}s shape {img_s.shape} painted z {z0}")
