"""The implemented rule (rank_exemplars: seeded circular partners, RANK_PARTNERS of them) replayed
on the registrations of pairs.py: which candidate it picks per pack and seed, and that study's
atlas quality (mean Dice of its labels registered onto every other study). ACDC: the cohort is
the 10 end-diastole frames (pairs.py registered those candidates only)."""
import json
from collections import defaultdict
from pathlib import Path
import numpy as np
from elsnet_core.exemplar import RANK_PARTNERS


def organ_mean(r):
    """Mean foreground Dice of one registered pair (pairs.py also wrote background)."""
    return float(np.mean([v for k, v in r["dice"].items() if k != "0" and v is not None]))

HERE = Path(__file__).parent
for pack, fn in [("chaos_mr_t2", "pairs_chaos.jsonl"), ("acdc_cine", "pairs_acdc.jsonl"), ("synapse_ct", "pairs_synapse.jsonl")]:
    rows = [json.loads(l) for l in (HERE / fn).read_text().splitlines()]
    pair = {(r["a"], r["b"]): r for r in rows}
    cands = sorted({r["a"] for r in rows})
    quality = {c: np.mean([organ_mean(r) for r in rows if r["a"] == c]) for c in cands}
    q = np.array(list(quality.values()))
    n = len(cands); k = min(RANK_PARTNERS, n - 1)
    picks = []
    for seed in range(10):
        order = [int(i) for i in np.random.default_rng(seed).permutation(n)]
        score = {}
        for pos, i in enumerate(order):
            partners = [order[(pos + j) % n] for j in range(1, k + 1)]
            score[cands[i]] = np.mean([pair[(cands[i], cands[p])]["ncc"] for p in partners])
        pick = max(cands, key=lambda c: score[c])
        picks.append((seed, pick, quality[pick]))
    below = sum(qq < np.median(q) for _, _, qq in picks)
    print(f"{pack}: {n} candidates, {k} partners each; quality median {np.median(q):.3f} mean {q.mean():.3f} best {q.max():.3f}")
    print("  seed 0 pick", picks[0][1], f"{picks[0][2]:.3f};", f"seeds 0-9: mean quality of the pick {np.mean([p[2] for p in picks]):.3f}, below the median {below}/10,",
          "picks", sorted({p[1] for p in picks}))
