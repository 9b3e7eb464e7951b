"""Session 10: markdown table of one painted slice (protocol) vs + the suggested slice, per class.
Usage (repo root): python next_slice_table.py"""
import json
from pathlib import Path

D = Path("bench_results/dev_runs/session10")
for pack in ("chaos_mr_t2", "acdc_cine", "synapse_ct"):
    runs = {}
    for seed, one, two in ((0, D / f"protocol_{pack}_slice.json", D / f"next_slice/{pack}/eval.json"),
                           (1, D / f"slice_seed1_{pack}.json", D / f"next_slice/{pack}/eval_s1.json")):
        if one.exists():
            m = json.loads(one.read_text())["methods"]["elsnet"]
            runs[f"one slice, seed {seed}"] = (m["dice"], m["mean_dice"], m.get("subset_mean_dice"))
        if two.exists() and two.stat().st_size:
            m = json.loads(two.read_text())
            runs[f"+ suggested, seed {seed}"] = (m["dice"], m["mean_dice"], m.get("subset_mean_dice"))
    sug = json.loads((D / f"next_slice/{pack}/suggestion.json").read_text())
    names = list(next(iter(runs.values()))[0])
    print(f"\n{pack}: painted slice {sug['painted']} (organs {sug['organs_on_painted']}), suggested "
          f"{sug.get('suggested')} (organs {sug.get('organs_on_suggested')}), extent {sug.get('organ_extent')}\n")
    sub = "synapse" in pack
    print("| run | " + " | ".join(names) + " | mean" + (" (8-organ)" if sub else "") + " |")
    print("|---" * (len(names) + 2) + "|")
    for k, (d, mean, s8) in runs.items():
        tail = f"{s8:.3f} ({mean:.3f})" if sub else f"{mean:.3f}"
        print(f"| {k} | " + " | ".join(f"{d[n]:.3f}" for n in names) + f" | {tail} |")
