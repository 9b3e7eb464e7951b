"""Typicality (elsnet_core.exemplar.rank_exemplars) of every case of each dev pack, beside
ELSNet's measured Dice per exemplar (sessions 18-19, docs/benchmarks.md)."""
import json, sys, time
from pathlib import Path
import numpy as np
from scipy.stats import spearmanr
from elsnet_core.exemplar import rank_exemplars

DATA = Path("../shared/data")
MEASURED = {  # ELSNet fast, volume, seed 0 (sessions 18/19 tables), atlas beside
    "chaos_mr_t2": {"case_01": (0.743, 0.548), "case_02": (0.813, 0.705), "case_03": (0.744, 0.569),
                    "case_05": (0.792, 0.682), "case_08": (0.683, 0.607)},
    "acdc_cine": {"patient001_frame01": (0.747, 0.468), "patient002_frame01": (0.767, 0.463),
                  "patient007_frame01": (0.694, 0.465), "patient008_frame01": (0.684, 0.389),
                  "patient011_frame01": (0.755, 0.595)},
    "synapse_ct": {"case_00": (0.619, 0.452), "case_01": (0.524, 0.433), "case_02": (0.434, 0.214),
                   "case_03": (0.506, 0.311), "case_04": (0.444, 0.449)},
}


def main() -> None:
    out = {}
    for pack, meas in MEASURED.items():
        cases = sorted(json.loads((DATA / pack / "dataset.json").read_text())["cases"])
        t = time.time()
        ranking = rank_exemplars([DATA / pack / "images" / f"{c}.nii.gz" for c in cases])
        score = {cases[i]: s for i, s in ranking}
        order = [cases[i] for i, _ in ranking]
        el = [meas[c][0] for c in meas]; at = [meas[c][1] for c in meas]; ty = [score[c] for c in meas]
        print(f"## {pack} ({time.time() - t:.1f} s, {len(cases)} studies); ranking: {order}")
        for c in meas:
            print(f"  {c:22s} typicality {score[c]:.3f} rank {order.index(c) + 1:2d}  elsnet {meas[c][0]:.3f} atlas {meas[c][1]:.3f}")
        print(f"  spearman typicality~elsnet {spearmanr(ty, el)[0]:+.2f}  ~atlas {spearmanr(ty, at)[0]:+.2f}")
        out[pack] = {"ranking": ranking, "cases": cases}
    Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/typ.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
