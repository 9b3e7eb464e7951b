"""Copy method rows of dev-run benchmark JSONs into the protocol JSONs (`bench_results/`).

Used by the per-session records in `bench_results/dev_runs/session*/copy_rows.py`: each row
keeps the run-level provenance (commit, code hash, date, command, threads) it would otherwise
lose and is marked with `copied_from`; every other row of the target stays as it was. Run from
the repository root.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

PROVENANCE = ("git_commit", "code_sha", "date_utc", "command", "torch_threads")


def copy_rows(sources: Mapping[tuple[str, str], Path], methods: Iterable[str] | None = None,
              preset: str = "fast") -> None:
    """For each (pack, setting) -> run JSON, copy ``methods`` (default: all of the run's)
    into ``bench_results/{pack}_{setting}_{preset}.json``. A missing run JSON is skipped."""
    wanted = None if methods is None else tuple(methods)
    for (pack, setting), src in sources.items():
        if not src.exists():
            print(f"{src}: not there, skipped", file=sys.stderr)
            continue
        target = Path(f"bench_results/{pack}_{setting}_{preset}.json")
        data = json.loads(target.read_text())
        run = json.loads(src.read_text())
        for method in wanted or tuple(run["methods"]):
            row = dict(run["methods"][method])
            for key in PROVENANCE:
                if key in run:
                    row.setdefault(key, run[key])
            row["copied_from"] = f"{src}#{method}"
            data["methods"][method] = row
            print(f"{target.name}: {method} <- {src} ({row['mean_dice']:.3f})")
        target.write_text(json.dumps(data, indent=1) + "\n")
