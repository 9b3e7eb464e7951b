"""Does intensity separate an organ's far false positives from its true positives? Per test case:
the share of voxels more than 2 / 3 robust SDs (MAD of the predicted organ's eroded interior)
from that interior's median, among true positives and among false positives > 10 mm away.
Usage: python intensity_sep.py PACK MODEL_DIR CLASS"""
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from elsnet_core.bench import protocol_split
from elsnet_core.predictor import Predictor

pack = Path(sys.argv[1])
k = int(sys.argv[3])
ds = json.loads((pack / "dataset.json").read_text())
P = Predictor.load(sys.argv[2], "cpu")
for case in protocol_split(sorted(ds["cases"])).test:
    img_p = next((pack / "images").glob(case + ".nii*"))
    img = np.asarray(nib.load(img_p).dataobj, dtype=np.float32)
    lab = nib.load(next((pack / "labels").glob(case + ".nii*")))
    gt = np.asarray(lab.dataobj).astype(int)
    sp = lab.header.get_zooms()[:3]
    pred = P.predict_file(img_p).labels
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
