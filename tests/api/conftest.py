from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

KEY = "test-key-0123456789"


@pytest.fixture
def client(pg_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The real app on real PostgreSQL; jobs go to a filesystem broker nobody consumes."""
    monkeypatch.setenv("ELSNET_BOOTSTRAP_KEY", KEY)
    from store.db import reset_caches

    reset_caches()
    from api.main import create_app

    with TestClient(create_app(), headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


LABELS = {"1": "liver", "2": "kidney_right"}


@pytest.fixture
def project(client: TestClient) -> dict:
    r = client.post("/api/v1/projects", json={"name": "p", "labels": LABELS})
    assert r.status_code == 201, r.text
    return r.json()
