"""How well does the per-study confidence rank the studies of one fit by their Dice? (session 19)

Reads every benchmark JSON under bench_results/ (each fit once), pairs each test study's
``confidence`` (the predictor's mean max-probability over its predicted organ voxels) with its
mean Dice over organs, and reports per pack and setting the median within-fit Spearman rank
correlation, then how often a study more than 0.03 below its fit's median confidence is a
study more than 0.15 below its fit's median Dice.

    python bench_results/dev_runs/session19/confidence_vs_dice.py      # from the repo root
"""

import collections
import sys

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, "bench_results/dev_runs/session19")
from records import each_fit  # noqa: E402


def fits():
    for d, _method, r, _path in each_fit():
        conf, per_case = r.get("confidence"), r.get("per_case")
        if not conf or not per_case:
            continue
        pairs = [(conf[c["case"]], float(np.mean(list(c["dice"].values()))))
                 for c in per_case if c["case"] in conf]
        if len(pairs) >= 4:
            yield d["pack"], d["setting"], np.array(pairs)


def main() -> None:
    rho = collections.defaultdict(list)
    rel = collections.defaultdict(list)
    for pack, setting, p in fits():
        rho[(pack, setting)].append(spearmanr(p[:, 0], p[:, 1]).statistic)
        rel[pack] += [(c - np.median(p[:, 0]), d - np.median(p[:, 1])) for c, d in p]
    for k, v in sorted(rho.items()):
        print(f"{k[0]:12s} {k[1]:6s} {len(v):3d} fits: within-fit Spearman rho median "
              f"{np.nanmedian(v):.2f}, positive in {np.mean(np.array(v) > 0):.0%}")
    for pack, v in sorted(rel.items()):
        a = np.array(v)
        flagged, bad = a[:, 0] < -0.03, a[:, 1] < -0.15
        print(f"{pack:12s} {len(a)} studies: {int(bad.sum())} >= 0.15 below their fit's median "
              f"Dice; confidence >= 0.03 below the fit's median flags {int(flagged.sum())}, "
              f"{int((flagged & bad).sum())} of them such studies")


if __name__ == "__main__":
    main()
