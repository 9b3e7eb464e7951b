"""Every benchmark fit recorded under bench_results/, each once (session 19's record scripts)."""

import glob
import json
from collections.abc import Iterator
from typing import Any


def each_fit() -> Iterator[tuple[dict[str, Any], str, dict[str, Any], str]]:
    """(report, method, method's row, path) for every fit in every benchmark JSON; a fit met
    again (the same pack, setting, exemplar, method and date, copied into another JSON) once."""
    seen = set()
    for path in sorted(glob.glob("bench_results/**/*.json", recursive=True)):
        try:
            d = json.load(open(path))
        except (OSError, ValueError):
            continue
        if not isinstance(d, dict) or "methods" not in d:
            continue
        for method, r in d["methods"].items():
            key = (d.get("pack"), d.get("setting"), d.get("exemplar"), method, r.get("date_utc"))
            if key not in seen:
                seen.add(key)
                yield d, method, r, path
