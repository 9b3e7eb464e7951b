"""How many partners? The rule replayed with k partners (and with each registration counted for
both studies, sym=True) over 20 seeded partner draws; the pick's atlas quality against the median."""
import json
from pathlib import Path
import numpy as np
HERE = Path(__file__).parent


def organ_mean(r):
    return float(np.mean([v for k, v in r["dice"].items() if k != "0" and v is not None]))
for pack, fn in [("chaos_mr_t2", "pairs_chaos.jsonl"), ("acdc_cine", "pairs_acdc.jsonl"), ("synapse_ct", "pairs_synapse.jsonl")]:
    rows = [json.loads(l) for l in (HERE / fn).read_text().splitlines()]
    pair = {(r["a"], r["b"]): r for r in rows}
    cands = sorted({r["a"] for r in rows})
    quality = {c: np.mean([organ_mean(r) for r in rows if r["a"] == c]) for c in cands}
    med = np.median(list(quality.values()))
    n = len(cands)
    for k in (3, 5, 7, 9):
        k = min(k, n - 1)
        for sym in (False, True):
            qs = []
            for seed in range(20):
                order = [int(i) for i in np.random.default_rng(seed).permutation(n)]
                got = {c: [] for c in cands}
                for pos, i in enumerate(order):
                    for j in range(1, k + 1):
                        p = order[(pos + j) % n]
                        v = pair[(cands[i], cands[p])]["ncc"]
                        got[cands[i]].append(v)
                        if sym: got[cands[p]].append(v)
                pick = max(cands, key=lambda c: np.mean(got[c]))
                qs.append(quality[pick])
            print(f"{pack} k={k} sym={sym}: mean pick quality {np.mean(qs):.3f}, below median {sum(x < med for x in qs)}/20")
