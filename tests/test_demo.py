"""`make demo` (demo.py): stopping the demo stops the service it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _wait_for(pattern: str, path: Path, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            found = re.search(pattern, path.read_text(errors="replace"))
            if found:
                return found
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} not in {path} after {timeout} s")


def test_sigterm_to_the_demo_stops_the_server_and_its_worker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "STORAGE_URL")}
    env["ELSNET_HOME"] = str(tmp_path / "home")
    demo = subprocess.Popen(
        [sys.executable, str(REPO / "elsnet_cli.py"), "demo", "--port", str(free_port()), "--preset", "tiny"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    server_pid = worker_pid = 0
    try:
        log = tmp_path / "home" / "server.log"
        server_pid = int(_wait_for(r"Started server process \[(\d+)\]", log, 120).group(1))
        worker_pid = int(_wait_for(r"embedded worker pid (\d+)", log, 30).group(1))
        assert _alive(server_pid) and _alive(worker_pid)
        # when: the demo is terminated (a process manager, `kill`), not interrupted
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=90)
        # then: the server (its own process session) and its embedded worker are gone too
        deadline = time.monotonic() + 60
        while (_alive(server_pid) or _alive(worker_pid)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(server_pid), "the demo left its server running"
        assert not _alive(worker_pid), "the demo left the embedded worker running"
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in (server_pid, worker_pid):  # never leave a failed run's processes behind
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)
