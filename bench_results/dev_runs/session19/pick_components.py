"""Which component of an organ the predictor keeps: largest vs contenders (session 19).

Re-predicts the test cases of a pack with saved ELSNet models (a bench ``--work-dir``'s
``elsnet/`` folder) without the component step, then applies ``largest_component_per_class``
both ways -- the largest component (before session 19) and ``contenders=True`` (a component at
least half the largest's size that lies nearer the other organs wins) -- and prints each
changed organ's Dice and the means. The fits themselves are not touched (pseudo-labels keep
the largest component either way), so this is the whole effect of the change on those models.

    python bench_results/dev_runs/session19/pick_components.py PACK_DIR EXEMPLAR MODEL_DIR ...
"""

import json
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, ".")
from elsnet_core.bench import protocol_split  # noqa: E402
from elsnet_core.io import load_volume  # noqa: E402
from elsnet_core.metrics import dice  # noqa: E402
from elsnet_core.predictor import Predictor, largest_component_per_class, predict_volume  # noqa: E402

EIGHT = ("spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "aorta",
         "pancreas")


def main(pack_dir: str, exemplar: str, model_dirs: list[str]) -> None:
    meta = json.load(open(f"{pack_dir}/dataset.json"))
    classes = {int(k): v for k, v in meta["labels"].items() if int(k)}
    cases = list(protocol_split(sorted(meta["cases"]), exemplar).test)
    for md in model_dirs:
        pr = Predictor.load(md, device="cpu")
        before, after = [], []
        for case in cases:
            v = load_volume(f"{pack_dir}/images/{case}.nii.gz")
            out, _ = predict_volume(pr.model, pr.cfg, pr.plan, v.array, v.affine, pr.device, lcc=False)
            raw = np.asarray(out.labels)
            truth = np.asarray(nib.load(f"{pack_dir}/labels/{case}.nii.gz").dataobj)
            a = largest_component_per_class(raw)
            b = largest_component_per_class(raw, contenders=True)
            da = {n: dice(a == c, truth == c) or 0.0 for c, n in classes.items()}
            db = {n: dice(b == c, truth == c) or 0.0 for c, n in classes.items()}
            before.append(da)
            after.append(db)
            changed = {n: (round(da[n], 3), round(db[n], 3)) for n in da if abs(da[n] - db[n]) > 1e-4}
            print(f"{md} {case}: {changed or 'no organ changed'}", flush=True)
        for label, names in (("mean", list(classes.values())), ("8-organ", [n for n in EIGHT if n in classes.values()])):
            if names and (label == "mean" or len(names) == len(EIGHT)):
                m0 = np.mean([[d[n] for n in names] for d in before])
                m1 = np.mean([[d[n] for n in names] for d in after])
                print(f"{md}: {label} largest {m0:.3f} -> contenders {m1:.3f} ({m1 - m0:+.3f})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
