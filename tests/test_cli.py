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


def test_create_key_with_a_role_and_projects(tmp_path: Path) -> None:
    import json
    import sqlite3

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "STORAGE_URL")}
    env["ELSNET_HOME"] = str(tmp_path / "home")

    def create_key(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(REPO / "elsnet_cli.py"), "create-key", *flags],
                              cwd=REPO, env=env, capture_output=True, text=True)

    # an unknown project is refused, naming it, and no key is made
    out = create_key("--name", "pacs", "--project", "p404")
    assert out.returncode == 2 and "no such project p404" in out.stderr and out.stdout == ""
    db = sqlite3.connect(tmp_path / "home" / "elsnet.db")
    with db:
        db.execute("INSERT INTO projects (id, name, labels, colors, auto_segment, created_at) "
                   "VALUES ('p1', 'a', '{}', '{}', 0, '2026-12-01 00:00:00'), ('p2', 'b', '{}', '{}', 0, '2026-12-01 00:00:00')")
    # a reader for two projects; --admin as before; --admin with another role is a contradiction
    assert create_key("--name", "viewer", "--role", "reader", "--project", "p1", "--project", "p2").returncode == 0
    assert create_key("--name", "it", "--admin").returncode == 0
    out = create_key("--name", "x", "--admin", "--role", "reader")
    assert out.returncode == 2 and "--admin contradicts --role reader" in out.stderr
    rows = {name: (role, json.loads(scope) if scope else None)
            for name, role, scope in db.execute("SELECT name, role, project_ids FROM api_keys")}
    assert rows == {"viewer": ("reader", ["p1", "p2"]), "it": ("admin", None)}


def test_production_mode_refuses_embedded_defaults(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "STORAGE_URL")}
    env.update(ELSNET_HOME=str(tmp_path), ELSNET_ENV="production")
    out = subprocess.run([sys.executable, "-c", "from store.settings import get_settings; get_settings()"],
                         cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "DATABASE_URL" in out.stderr
