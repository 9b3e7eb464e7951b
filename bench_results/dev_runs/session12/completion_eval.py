"""Score complete_label on the working grid exactly as fit() builds it (slice protocol).

usage: completion_eval.py PACK [key=value ...]   keys: beta threshold max_label_voxels margin
Prints per-class Dice of the completed label (255 counts as "not this class"), precision and
coverage of its organ voxels, background precision, time. Against the exemplar's own expert
label, mapped onto the working grid with nearest neighbour. No training.
"""
import json, sys, time
from dataclasses import replace
from pathlib import Path
import numpy as np, nibabel as nib
from elsnet_core.io import load_volume
from elsnet_core.config import make_config
from elsnet_core.preprocess import (normalize_intensity, detect_modality, plan_field_of_view,
                                    WorkingGrid)
from elsnet_core.bench import slice_setting_label
from elsnet_core.completion import CompletionSettings, complete_label
from elsnet_core.metrics import dice

pack = Path(sys.argv[1])
kw = dict(a.split("=") for a in sys.argv[2:])
ds = json.loads((pack / "dataset.json").read_text())
case = sorted(ds["cases"])[0]
vol = load_volume(pack / "images" / f"{case}.nii.gz")
truth = np.asarray(nib.load(pack / "labels" / f"{case}.nii.gz").dataobj).astype(np.uint8)
lab, z0 = slice_setting_label(truth)
cfg = make_config("fast")
mod = detect_modality(vol.array)
norm = normalize_intensity(vol.array, mod, cfg.ct_window, cfg.mr_percentiles)
pixel_mm, off = plan_field_of_view(norm, lab, vol.affine, cfg.size, cfg.fov_margin)
grid = WorkingGrid.plan(vol.affine, vol.shape, norm, cfg.size, pixel_mm, off)
img = grid.to_working(norm)
def wl(a):
    return grid.to_working(a.astype(np.float32), nearest=True, fill=255).round().astype(np.uint8)
wlab, wtruth = wl(lab), wl(truth)
sp = grid.working_spacing(vol.spacing[2])
spacing = (sp[2], sp[0], sp[1])
s = CompletionSettings()
fields = {f: type(getattr(s, f))(v) for f, v in kw.items()}
s = replace(s, **fields)
t = time.time()
out = complete_label(img, wlab, spacing, s)
dt = time.time() - t
K = int(truth.max())
valid = wtruth != 255
ds_, precs, covs = [], [], []
for c in range(1, K + 1):
    p, tr = (out == c) & valid, (wtruth == c)
    d = dice(p, tr) or 0.0
    prec = (p & tr).sum() / max(p.sum(), 1); cov = (p & tr).sum() / max(tr.sum(), 1)
    ds_.append(d)
    if p.sum(): precs.append(prec); covs.append(cov)
    print(f"  class {c:2d}: dice {d:.3f} precision {prec:.3f} coverage {cov:.3f}")
bg = (out == 0) & valid
print(f"{pack.name} {kw}: mean dice {np.mean(ds_):.3f} organ precision mean {np.mean(precs):.3f} "
      f"min {np.min(precs):.3f} coverage mean {np.mean(covs):.3f} bg precision "
      f"{((wtruth == 0) & bg).sum() / max(bg.sum(), 1):.4f} labelled {(out != 255).mean():.3f} "
      f"time {dt:.1f}s grid {img.shape} painted z {z0}")
