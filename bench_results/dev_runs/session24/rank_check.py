"""The implemented rule itself (elsnet_core.exemplar.rank_exemplars on the pack's files, as a
`rank` job calls it) on each pack: its ranking, its pick and the wall time. ACDC: the 10
end-diastole frames (the cohort pairs.py measured). Usage: rank_check.py PACK [PACK ...]"""
import json, sys, time
from pathlib import Path
from elsnet_core.exemplar import RANK_PARTNERS, rank_exemplars

DATA = Path("../shared/data")
for pack in sys.argv[1:]:
    cases = sorted(json.loads((DATA / pack / "dataset.json").read_text())["cases"])
    if pack == "acdc_cine":
        cases = [c for c in cases if c.endswith("_frame01")]
    t = time.time()
    ranking = rank_exemplars([DATA / pack / "images" / f"{c}.nii.gz" for c in cases])
    took = time.time() - t
    print(f"{pack}: {len(cases)} studies, {RANK_PARTNERS} partners, {took:.0f} s; pick {cases[ranking[0][0]]}")
    print("  " + ", ".join(f"{cases[i]} {s:.3f}" for i, s in ranking), flush=True)
