"""Session 10: copy the repeatable-registration protocol rows into the protocol JSONs.

Replaces the `elsnet` row (final/protocol_PACK_SETTING.json) and the `atlas` / `atlas_affine` rows
(atlas_PACK_SETTING.json) of bench_results/PACK_SETTING_fast.json, each marked with
`copied_from`; every other row stays as it was. Run from the repository root.
"""
import json
from pathlib import Path

D = Path("bench_results/dev_runs/session10")
for pack in ("chaos_mr_t2", "acdc_cine", "synapse_ct"):
    for setting in ("volume", "slice"):
        target = Path(f"bench_results/{pack}_{setting}_fast.json")
        data = json.loads(target.read_text())
        # ELSNet: the final code (commit 458dbed, final.sh); atlas: fbcc6e8 (atlas.sh), the
        # registration the final code runs (458dbed changed training only)
        for src, methods in ((D / "final" / f"protocol_{pack}_{setting}.json", ("elsnet",)),
                             (D / f"atlas_{pack}_{setting}.json", ("atlas", "atlas_affine"))):
            run = json.loads(src.read_text())
            for m in methods:
                row = dict(run["methods"][m])
                row.setdefault("git_commit", run["git_commit"])
                row.setdefault("code_sha", run["code_sha"])
                row.setdefault("date_utc", run["date_utc"])
                row.setdefault("command", run["command"])
                row.setdefault("torch_threads", run["torch_threads"])
                row["copied_from"] = str(src)
                data["methods"][m] = row
                print(f"{target.name}: {m} <- {src.name} ({row['mean_dice']:.3f})")
        target.write_text(json.dumps(data, indent=1) + "\n")
