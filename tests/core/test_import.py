"""elsnet_core must stay free of the service stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_elsnet_core_loads_no_web_or_queue_modules():
    code = (
        "import sys, elsnet_core, elsnet_core.cli\n"
        "bad = [m for m in ('fastapi', 'celery', 'sqlalchemy', 'api', 'worker', 'store')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
