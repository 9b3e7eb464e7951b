"""Concurrent uploads on the embedded default (SQLite) all land, none twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from tests import factories as f


def test_parallel_uploads_on_sqlite(sqlite_env: dict, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from store.db import reset_caches

    monkeypatch.setenv("ELSNET_BOOTSTRAP_KEY", "conc-key")
    reset_caches()
    from api.main import create_app

    with TestClient(create_app(), headers={"Authorization": "Bearer conc-key"}) as client:
        pid = client.post("/api/v1/projects", json={"name": "c", "labels": {"1": "liver"}}).json()["id"]
        payloads = [f.nifti_bytes(f.volume((48, 40, 12), seed=i)) for i in range(6)]
        payloads.append(payloads[0])  # the same bytes twice: one study, not two

        def send(data: bytes) -> int:
            return client.post(f"/api/v1/projects/{pid}/studies", files={"file": ("v.nii.gz", data)}).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(send, payloads))
        assert all(c in (200, 201) for c in codes), codes
        assert client.get(f"/api/v1/projects/{pid}/studies").json()["count"] == 6
