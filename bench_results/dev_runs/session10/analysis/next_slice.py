"""Session 10: does painting the slice `suggest_next_slice` proposes help? (NOT the protocol.)

Usage: python next_slice.py PACK MODEL_DIR OUT_DIR
MODEL_DIR: the protocol slice-setting `elsnet` model of PACK (one painted slice). Predicts
the exemplar study with it, asks `suggest_next_slice` for the next slice, and writes
OUT_DIR/label_two_slices.nii.gz: the protocol's painted slice plus the suggested one, both
from the expert label (what a person painting that slice would give), and
OUT_DIR/suggestion.json (the slice, the organs truly on it, the rule's extent).
"""
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from elsnet_core.bench import protocol_split, slice_setting_label
from elsnet_core.exemplar import suggest_next_slice
from elsnet_core.io import load_volume
from elsnet_core.predictor import Predictor

pack, model_dir, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
ds = json.load(open(pack / "dataset.json"))
split = protocol_split(sorted(ds["cases"]))
img_path = next((pack / "images").glob(split.exemplar + ".nii*"))
lab_nii = nib.load(next((pack / "labels").glob(split.exemplar + ".nii*")))
truth = np.asarray(lab_nii.dataobj).astype(np.uint8)
painted, k0 = slice_setting_label(truth)
vol = load_volume(img_path)
pred = Predictor.load(model_dir, "cpu").predict_volume(vol).labels
sug = suggest_next_slice(pred, painted, float(vol.spacing[2]))
info = {"pack": pack.name, "exemplar": split.exemplar, "painted": k0, "n_slices": truth.shape[2],
        "slice_mm": float(vol.spacing[2]),
        "predicted_area_per_slice": (pred > 0).reshape(-1, truth.shape[2]).sum(0).tolist(),
        "true_area_per_slice": (truth > 0).reshape(-1, truth.shape[2]).sum(0).tolist()}
if sug is not None:
    k1 = sug.slice_index
    two = painted.copy()
    two[:, :, k1] = truth[:, :, k1]
    nib.save(nib.Nifti1Image(two, lab_nii.affine, lab_nii.header), out / "label_two_slices.nii.gz")
    info.update(suggested=k1, organ_extent=list(sug.organ_extent), gap_mm=sug.gap_mm,
                organs_on_suggested=sorted(int(c) for c in np.unique(truth[:, :, k1]) if c),
                organs_on_painted=sorted(int(c) for c in np.unique(truth[:, :, k0]) if c))
(out / "suggestion.json").write_text(json.dumps(info, indent=1))
print(json.dumps({k: v for k, v in info.items() if "per_slice" not in k}))
