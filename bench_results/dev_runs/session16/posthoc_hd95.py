"""Add HD95 to a bench row measured with --no-hd95, from the very model that row trained.

Usage: python posthoc_hd95.py RESULT.json WORK_DIR PACK_DIR
Loads WORK_DIR/elsnet, predicts every test case of the JSON, checks that each case's Dice
equals the JSON's to 1e-9 (the same model, the same predictions: else it stops), then writes
the row's hd95 / mean_hd95 / hd95_missing as `elsnet bench` would have, plus `hd95_note`.
"""
import json
import sys
from pathlib import Path

import numpy as np

from elsnet_core import Predictor
from elsnet_core.bench import Pack, _spacing_only, _summarise
from elsnet_core.metrics import evaluate_case

res_path, work, pack_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
report = json.loads(res_path.read_text())
row = report["methods"]["elsnet"]
pack = Pack.open(pack_dir)
predictor = Predictor.load(work / "elsnet", device="cpu")
scores = []
for case in report["test_cases"]:
    pred = predictor.predict_file(pack.image_path(case))
    _, sp = _spacing_only(pack, case)
    s = evaluate_case(np.asarray(pred.labels), pack.label(case), sp, pack.classes, case=case,
                      with_hd95=True)
    scores.append(s)
summary = _summarise(scores, pack)
for old, new in zip(row["per_case"], summary["per_case"], strict=True):
    assert old["case"] == new["case"]
    for k, v in old["dice"].items():
        assert abs(v - new["dice"][k]) < 1e-9, (old["case"], k, v, new["dice"][k])
row["hd95"] = summary["hd95"]
row["mean_hd95"] = summary["mean_hd95"]
row["hd95_missing"] = summary["hd95_missing"]
row["per_case"] = summary["per_case"]
row["hd95_note"] = ("HD95 computed after the run by posthoc_hd95.py from the same saved model; "
                    "every case's Dice matched the run's to 1e-9")
res_path.write_text(json.dumps(report, indent=2))
print(res_path, "mean HD95", row["mean_hd95"], row["hd95_missing"])
