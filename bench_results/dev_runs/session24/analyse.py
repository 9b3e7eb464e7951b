"""Which label-free quantity picks a good exemplar? Reads pairs_*.jsonl (pairs.py) and the
thumbnail typicality (rank_exemplars), prints per-candidate tables and rank correlations."""
import json, sys
from collections import defaultdict
from pathlib import Path
import numpy as np
from scipy.stats import spearmanr
sys.path.insert(0, str(Path(__file__).parent))
from typicality import MEASURED  # noqa: E402  (ELSNet per exemplar, sessions 18-19)


def organ_mean(r):
    """Mean foreground Dice of one registered pair (pairs.py also wrote background)."""
    return float(np.mean([v for k, v in r["dice"].items() if k != "0" and v is not None]))

pack, path = sys.argv[1], Path(sys.argv[2])
rows = [json.loads(l) for l in path.read_text().splitlines()]
by_a, by_b = defaultdict(list), defaultdict(list)
for r in rows:
    by_a[r["a"]].append(r); by_b[r["b"]].append(r)
cands = sorted(by_a)
def m(rs, k): return float(np.mean([r[k] for r in rs]))
tab = {c: {"quality": float(np.mean([organ_mean(r) for r in by_a[c]])), "ncc_as_exemplar": m(by_a[c], "ncc"),
           "mi_as_exemplar": -m(by_a[c], "mi"), "small_deform": -m(by_a[c], "deform_mm"),
           "ncc_as_target": m(by_b[c], "ncc") if by_b[c] else np.nan,
           "n": len(by_a[c])} for c in cands}
thumb = None
typ = Path(__file__).parent / "typicality.json"
if typ.exists():
    t = json.loads(typ.read_text())[pack]
    score = {t["cases"][i]: s for i, s in t["ranking"]}
    for c in cands: tab[c]["thumbnail"] = score[c]
keys = [k for k in tab[cands[0]] if k not in ("quality", "n")]
print(f"{pack}: {len(rows)} pairs, {len(cands)} candidates")
print("candidate            atlas-quality " + " ".join(f"{k:>16s}" for k in keys) + "   elsnet")
for c in sorted(cands, key=lambda c: -tab[c]["quality"]):
    el = MEASURED.get(pack, {}).get(c, (None,))[0]
    print(f"{c:22s} {tab[c]['quality']:.3f}      " + " ".join(f"{tab[c][k]:16.3f}" for k in keys)
          + (f"   {el:.3f}" if el else ""))
q = [tab[c]["quality"] for c in cands]
for k in keys:
    v = [tab[c][k] for c in cands]
    best = max(cands, key=lambda c: tab[c][k])
    qs = sorted(q)
    pct = sum(x <= tab[best]["quality"] for x in q) / len(q)
    me = [c for c in cands if c in MEASURED.get(pack, {})]
    rho_el = spearmanr([tab[c][k] for c in me], [MEASURED[pack][c][0] for c in me])[0] if len(me) > 2 else np.nan
    print(f"  {k:16s} spearman~atlas-quality {spearmanr(v, q)[0]:+.2f}  top pick {best} (quality {tab[best]['quality']:.3f}, "
          f"median {np.median(q):.3f}, best {max(q):.3f})  spearman~elsnet(5) {rho_el:+.2f}")
