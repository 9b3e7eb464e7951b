"""Does stage 1's disagreement with registration predict an organ's test Dice? (session 19)

Reads every benchmark JSON under bench_results/ (each fit once: pack, setting, exemplar, method,
date), takes each organ's ``stage1_vs_registration_dice_<c>`` (the fit's metric: the stage-1
network's pseudo-labels against the registration-propagated labels of the cohort, mean over
studies) and the organ's mean test Dice, and counts how many organs below an agreement
threshold scored test Dice < 0.5 / < 0.3. ``elsnet_no_cohort_synthesis`` is left out: without
the cohort registration, the only "registration" label is the exemplar's own (agreement ~1).

    python bench_results/dev_runs/session19/agreement_vs_dice.py      # from the repo root
"""

import sys

import numpy as np

sys.path.insert(0, "bench_results/dev_runs/session19")
from records import each_fit  # noqa: E402


def organ_rows() -> list[tuple[float, float, str, str, str, str, str, str]]:
    rows = []
    for d, method, r, path in each_fit():
        if method == "elsnet_no_cohort_synthesis":
            continue
        for k, agree in (r.get("train_metrics") or {}).items():
            if not k.startswith("stage1_vs_registration_dice_"):
                continue
            name = d.get("classes", {}).get(k.rsplit("_", 1)[1])
            test = r.get("dice", {}).get(name)
            if agree is None or test is None:
                continue
            rows.append((agree, test, d["pack"], d["setting"], str(d.get("exemplar")),
                         method, name, path))
    return rows


def report(rows, label: str) -> None:
    a = np.array([r[0] for r in rows])
    t = np.array([r[1] for r in rows])
    print(f"{label}: {len(rows)} organ-fits, {int((t < 0.3).sum())} of them with test Dice < 0.3")
    for thr in (0.1, 0.2, 0.3, 0.4):
        low = a < thr
        print(f"  agreement < {thr}: {int(low.sum())} organs, test Dice < 0.5 in "
              f"{int((t[low] < 0.5).sum())}, < 0.3 in {int((t[low] < 0.3).sum())}; "
              f"catches {int((low & (t < 0.3)).sum())} of the {int((t < 0.3).sum())} below 0.3")


if __name__ == "__main__":
    rows = organ_rows()
    report(rows, "every fit recorded (sessions 4-19, all methods but no-cohort-synthesis)")
    current = [r for r in rows if r[5] == "elsnet"
               and any(f"session{s}" in r[7] for s in (16, 17, 18, 19))]
    report(current, "`elsnet` fits of the current fast preset (sessions 16-19)")
    for r in sorted(rows):
        if r[0] < 0.2 and r[1] >= 0.5:
            print(f"  below 0.2 yet test Dice >= 0.5: {r[0]:.2f} -> {r[1]:.2f} {r[2:7]} {r[7]}")
