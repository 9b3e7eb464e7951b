"""Session 11: copy the slice-setting rows of the code with the random-walk completion into
the protocol JSONs.

`elsnet` (completion on) and `elsnet_no_completion` of bench_results/PACK_slice_fast.json are
replaced / added, each marked with `copied_from`; every other row stays as it was. All runs
on this session's 2-vCPU AMD EPYC (AVX2 only, fp32; the 500 s cap binds). Run from the
repository root.

- chaos_mr_t2: `elsnet` from completion_05ada22 (the completion at the working grid, as the
  final code computes it for CHAOS: 5 labels x 37 x 128 x 128 is under the 10 M cap);
  `elsnet_no_completion` from baseline_6fd9e23 (the code before the completion; the switch
  only skips the call, so the row is the same computation).
- acdc_cine: both rows from completion_05ada22 (one run, seed 0; under the cap as well).
- synapse_ct: `elsnet` from completion_225fcbf (the final code: the walk on the 2x grid);
  `elsnet_no_completion` from completion_e1e6132 (same computation as the final code's).
"""
import json
from pathlib import Path

D = Path("bench_results/dev_runs/session11")
SOURCES = {
    "chaos_mr_t2": [(D / "completion_05ada22" / "chaos_mr_t2_slice.json", "elsnet", "elsnet"),
                    (D / "baseline_6fd9e23" / "chaos_slice.json", "elsnet", "elsnet_no_completion")],
    "acdc_cine": [(D / "completion_05ada22" / "acdc_cine_slice.json", "elsnet", "elsnet"),
                  (D / "completion_05ada22" / "acdc_cine_slice.json", "elsnet_no_completion",
                   "elsnet_no_completion")],
    "synapse_ct": [(D / "completion_225fcbf" / "synapse_ct_slice.json", "elsnet", "elsnet"),
                   (D / "completion_e1e6132" / "synapse_ct_slice.json", "elsnet_no_completion",
                    "elsnet_no_completion")],
}
for pack, rows in SOURCES.items():
    target = Path(f"bench_results/{pack}_slice_fast.json")
    data = json.loads(target.read_text())
    for src, method, as_method in rows:
        run = json.loads(src.read_text())
        row = dict(run["methods"][method])
        for key in ("git_commit", "code_sha", "date_utc", "command", "torch_threads"):
            if key in run:
                row.setdefault(key, run[key])
        row["copied_from"] = f"{src}#{method}"
        data["methods"][as_method] = row
        print(f"{target.name}: {as_method} <- {src} {method} ({row['mean_dice']:.3f})")
    target.write_text(json.dumps(data, indent=1) + "\n")
