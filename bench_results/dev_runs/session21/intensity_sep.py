"""Does intensity separate an organ's far false positives from its true positives? Per test case:
the share of voxels more than 2 / 3 robust SDs (MAD of the predicted organ's eroded interior)
from that interior's median, among true positives and among false positives > 10 mm away.
Usage: python intensity_sep.py PACK MODEL_DIR CLASS"""
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from elsnet_core.bench import Pack, protocol_split
from elsnet_core.predictor import Predictor

pack = Pack.open(Path(sys.argv[1]))
k = int(sys.argv[3])
P = Predictor.load(sys.argv[2], "cpu")
for case in protocol_split(sorted(pack.cases)).test:
    img, sp = pack.image(case)
    gt = pack.label(case)
    pred = P.predict_file(pack.image_path(case)).labels
    p = pred == k
    g = gt == k
    # reference without truth: the predicted organ's interior (eroded 2 voxels in-plane)
    core = ndi.binary_erosion(p, structure=np.ones((5, 5, 1), bool))
    med = np.median(img[core])
    mad = np.median(np.abs(img[core] - med)) * 1.4826
    dev = np.abs(img - med) / max(mad, 1e-6)
    d = ndi.distance_transform_edt(~g, sampling=sp)
    tp = p & g
    far = p & ~g & (d > 10)
    for t in (2.0, 3.0):
        out_tp = (dev[tp] > t).mean()
        out_far = (dev[far] > t).mean()
        print(f"{case} thr {t}: outliers among TP {out_tp:.2f}, among far FP {out_far:.2f}", flush=True)
