"""Where an organ's far false positives lie: per test case, the share of them in slices
outside the true organ's z-range, the true labels under them, and their count per slice.
Usage: python liver_fp.py PACK MODEL_DIR [CLASS] [NEAR_MM]"""
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from elsnet_core.bench import Pack, protocol_split
from elsnet_core.predictor import Predictor

pack = Pack.open(Path(sys.argv[1]))
k = int(sys.argv[3]) if len(sys.argv) > 3 else 1
near = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
P = Predictor.load(sys.argv[2], "cpu")
for case in protocol_split(sorted(pack.cases)).test:
    gt = pack.label(case)
    pr = P.predict_file(pack.image_path(case))
    pred = pr.labels
    sp = np.linalg.norm(pr.affine[:3, :3], axis=0)  # the input's voxel spacing (mm)
    g, p = gt == k, pred == k
    d = ndi.distance_transform_edt(~g, sampling=sp)
    far = p & ~g & (d > near)
    zs = np.where(g.any((0, 1)))[0]
    zin = np.zeros(g.shape[2], bool)
    zin[zs.min():zs.max() + 1] = True
    out_z = far[:, :, ~zin].sum() / max(far.sum(), 1)
    # what the far FP voxels are in truth
    other = np.bincount(gt[far].ravel(), minlength=len(pack.classes) + 1)
    per_z = far.sum((0, 1))
    print(f"{case}: far FP {far.sum() / g.sum():.2f} of organ; outside organ z-range {out_z:.2f}; "
          f"true labels there {other.tolist()}; organ z {zs.min()}-{zs.max()} of {g.shape[2]}; "
          f"far FP per slice {per_z.tolist()}", flush=True)
