"""The embedded worker shuts itself down when the `elsnet serve` that started it is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, signal, sys, time
from worker import celery_app

def on_quit(signum, frame):
    print("SIGQUIT", flush=True)
    sys.exit(0)

signal.signal(signal.SIGQUIT, on_quit)
parent = int(sys.argv[1])
celery_app._watch_parent(parent)
time.sleep(5)
print("no signal", flush=True)
"""


def _run(parent_pid: int, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, str(parent_pid)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_worker_cold_shuts_down_when_its_parent_is_gone() -> None:
    # a pid that is not this child's parent: as if serve died and the child was reparented
    out = _run(parent_pid=2**22 + 12345, timeout=60)
    assert "SIGQUIT" in out.stdout, out.stderr[-2000:]


def test_worker_keeps_running_while_its_parent_lives() -> None:
    import os

    proc = subprocess.Popen([sys.executable, "-c", CHILD.replace("celery_app._watch_parent(parent)",
                             "import threading; threading.Thread(target=celery_app._watch_parent, "
                             "args=(parent,), daemon=True).start()"), str(os.getpid())],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=60)
    assert "no signal" in stdout and "SIGQUIT" not in stdout, stderr[-2000:]
