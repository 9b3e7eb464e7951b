"""Session 10: markdown table of the protocol `elsnet` rows: the earlier table (git HEAD~ of the
protocol JSONs, passed as PREV_COMMIT), fbcc6e8 (repeatable registration) and the final code.
Usage (repo root): python rows_table.py PREV_COMMIT"""
import json
import subprocess
import sys
from pathlib import Path

D = Path("bench_results/dev_runs/session10")


def cell(m):
    s8 = m.get("subset_mean_dice")
    return f"{s8:.3f} ({m['mean_dice']:.3f})" if s8 is not None else f"{m['mean_dice']:.3f}"


print("| pack | setting | earlier table | fbcc6e8 | final (458dbed) | final fit s | atlas (fbcc6e8) |")
print("|---|---|---|---|---|---|---|")
for pack in ("chaos_mr_t2", "acdc_cine", "synapse_ct"):
    for setting in ("volume", "slice"):
        prev = json.loads(subprocess.check_output(
            ["git", "show", f"{sys.argv[1]}:bench_results/{pack}_{setting}_fast.json"]))
        row = [pack, setting, cell(prev["methods"]["elsnet"])]
        for f in (D / f"protocol_{pack}_{setting}.json", D / "final" / f"protocol_{pack}_{setting}.json"):
            row.append(cell(json.loads(f.read_text())["methods"]["elsnet"]) if f.exists() else "not run")
        fin = D / "final" / f"protocol_{pack}_{setting}.json"
        row.append(f"{json.loads(fin.read_text())['methods']['elsnet']['fit_seconds']:.0f}" if fin.exists() else "")
        row.append(cell(json.loads((D / f"atlas_{pack}_{setting}.json").read_text())["methods"]["atlas"]))
        print("| " + " | ".join(row) + " |")
