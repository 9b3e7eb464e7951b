"""The service commands of the `elsnet` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_create_key_migrates_and_stores_only_the_hash(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "STORAGE_URL")}
    env["ELSNET_HOME"] = str(tmp_path / "home")
    out = subprocess.run([sys.executable, str(REPO / "elsnet_cli.py"), "create-key", "--name", "ops"],
                         cwd=REPO, env=env, capture_output=True, text=True, check=True)
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("els_") and len(key) > 30
    import sqlite3

    rows = sqlite3.connect(tmp_path / "home" / "elsnet.db").execute("SELECT name, key_hash FROM api_keys").fetchall()
    assert len(rows) == 1 and rows[0][0] == "ops"
    assert key not in rows[0][1]  # stored hashed
    from store.auth import hash_key

    assert rows[0][1] == hash_key(key)


def test_production_mode_refuses_embedded_defaults(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "STORAGE_URL")}
    env.update(ELSNET_HOME=str(tmp_path), ELSNET_ENV="production")
    out = subprocess.run([sys.executable, "-c", "from store.settings import get_settings; get_settings()"],
                         cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "DATABASE_URL" in out.stderr
