"""Refresh the generated tables of docs/benchmarks.md from `elsnet bench-report` output.

Usage: elsnet bench-report > /tmp/report.md && python scripts/splice_report.py /tmp/report.md

The report's first table (the summary) replaces the table under "## Summary"; its per-pack
sections (from the first "### ") replace everything between "## Per-pack tables" and the
next "## " heading. Hand-written prose around them stays as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def main(report_path: str) -> None:
    report = Path(report_path).read_text().splitlines()
    first = report.index(next(line for line in report if line.startswith("| pack |")))
    end = next(i for i in range(first, len(report)) if not report[i].startswith("|"))
    summary = report[first:end]
    per_pack = report[next(i for i, line in enumerate(report) if line.startswith("### ")):]

    doc = DOC.read_text().splitlines()
    s0 = next(i for i, line in enumerate(doc) if line.startswith("## Summary"))
    t0 = next(i for i in range(s0, len(doc)) if doc[i].startswith("| pack |"))
    t1 = next(i for i in range(t0, len(doc)) if not doc[i].startswith("|"))
    doc[t0:t1] = summary
    p0 = next(i for i, line in enumerate(doc) if line.startswith("## Per-pack tables"))
    p1 = next(i for i in range(p0 + 1, len(doc)) if doc[i].startswith("## "))
    block = [doc[p0], ""]
    if doc[p0 + 1].strip() and not doc[p0 + 1].startswith("### "):
        block = [doc[p0], doc[p0 + 1], ""]  # keep a one-line intro under the heading
    doc[p0:p1] = [*block, *per_pack, ""]
    DOC.write_text("\n".join(doc).rstrip("\n") + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
