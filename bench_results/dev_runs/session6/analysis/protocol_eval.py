"""Score a model folder on a pack's protocol test cases exactly as `elsnet bench` does (no HD95).
Usage: python protocol_eval.py PACK MODEL_DIR"""
import json, sys
from pathlib import Path
import nibabel as nib, numpy as np
from elsnet_core.bench import SYNAPSE_8_ORGANS, protocol_split
from elsnet_core.metrics import aggregate, evaluate_case
from elsnet_core.predictor import Predictor
pack = Path(sys.argv[1]); ds = json.load(open(pack / "dataset.json"))
names = {int(k): v for k, v in (ds.get("labels") or ds["classes"]).items() if int(k) > 0}
split = protocol_split(sorted(ds["cases"]))
P = Predictor.load(sys.argv[2], "cpu")
scores = []
for case in split.test:
    img = next((pack / "images").glob(case + ".nii*")); lab = nib.load(next((pack / "labels").glob(case + ".nii*")))
    pred = P.predict_file(img).labels
    scores.append(evaluate_case(pred, np.asarray(lab.dataobj).astype(int), lab.header.get_zooms()[:3], names, case=case, with_hd95=False))
agg = aggregate(scores, names, subset=SYNAPSE_8_ORGANS if "synapse" in pack.name else None)
print(json.dumps({k: agg[k] for k in ("dice", "mean_dice", "subset_mean_dice", "n_cases") if k in agg}, indent=1))
