"""Session 12: copy this session's slice-setting rows into the protocol JSONs.

All runs on this session's 2-vCPU AMD EPYC with native bf16 (device `cpu (bf16)`), one at a
time, seed 0. Each copied row is marked with `copied_from`; every other row stays as it was.
Run from the repository root.

- synapse_ct `elsnet`: synapse_slice_refine2.json (24b155a, the refining walk; b9ebc31, the
  final code, differs only in caching the completed label for a resumed run).
- synapse_ct `elsnet_no_completion`: synapse_slice_nocompl.json (b9ebc31); the three
  ablations: synapse_slice_abl.json (b9ebc31).
- chaos_mr_t2 `elsnet`, `elsnet_no_completion`, `elsnet_no_cohort_synthesis`,
  `elsnet_no_contrastive`, `elsnet_no_stage2`: chaos_slice.json (b9ebc31; CHAOS walks its
  working grid outright, unchanged this session).
- acdc_cine `elsnet`, `elsnet_no_completion`: acdc_slice.json (b9ebc31, likewise).
"""
import json
from pathlib import Path

D = Path("bench_results/dev_runs/session12")
CHAOS_ROWS = ("elsnet", "elsnet_no_completion", "elsnet_no_cohort_synthesis",
              "elsnet_no_contrastive", "elsnet_no_stage2")
SYNAPSE_ABLATIONS = ("elsnet_no_cohort_synthesis", "elsnet_no_contrastive", "elsnet_no_stage2")
SOURCES = {
    "synapse_ct": [(D / "synapse_slice_refine2.json", "elsnet"),
                   (D / "synapse_slice_nocompl.json", "elsnet_no_completion")]
    + [(D / "synapse_slice_abl.json", m) for m in SYNAPSE_ABLATIONS],
    "chaos_mr_t2": [(D / "chaos_slice.json", m) for m in CHAOS_ROWS],
    "acdc_cine": [(D / "acdc_slice.json", m) for m in ("elsnet", "elsnet_no_completion")],
}
for pack, rows in SOURCES.items():
    target = Path(f"bench_results/{pack}_slice_fast.json")
    data = json.loads(target.read_text())
    for src, method in rows:
        run = json.loads(src.read_text())
        row = dict(run["methods"][method])
        for key in ("git_commit", "code_sha", "date_utc", "command", "torch_threads"):
            if key in run:
                row.setdefault(key, run[key])
        row["copied_from"] = f"{src}#{method}"
        data["methods"][method] = row
        print(f"{target.name}: {method} <- {src} ({row['mean_dice']:.3f})")
    target.write_text(json.dumps(data, indent=1) + "\n")
