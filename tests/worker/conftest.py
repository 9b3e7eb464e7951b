from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import small_chaos_case
from tests.e2e.helpers import Api

LABELS = {"1": "liver", "2": "kidney_right", "3": "kidney_left", "4": "spleen"}


@pytest.fixture
def service(pg_env, redis_url, monkeypatch, tmp_path: Path) -> Iterator[tuple[Api, dict]]:  # type: ignore[no-untyped-def]
    """API in-process on PostgreSQL + Redis; a fast heartbeat so dead workers are found in seconds
    (20 s: long enough that a loaded 2-core machine does not starve a live worker's heartbeat)."""
    from fastapi.testclient import TestClient

    from store.db import reset_caches

    extra = {
        "BROKER_URL": redis_url, "ELSNET_BOOTSTRAP_KEY": "wk-key", "ELSNET_HEARTBEAT_INTERVAL_S": "1",
        "ELSNET_HEARTBEAT_TIMEOUT_S": "20", "ELSNET_REAPER_INTERVAL_S": "1",
    }
    for k, v in extra.items():
        monkeypatch.setenv(k, v)
    reset_caches()
    from api.main import create_app

    with TestClient(create_app(), headers={"Authorization": "Bearer wk-key"}) as client:
        yield Api(client), {**pg_env, **extra}


@pytest.fixture
def exemplar_project(service, tmp_path: Path):  # type: ignore[no-untyped-def]
    api, _ = service
    ex_img, ex_lab = small_chaos_case("case_01", tmp_path)
    other_img, _ = small_chaos_case("case_02", tmp_path)
    pid = api.project(LABELS)
    ex = api.upload(pid, ex_img)
    other = api.upload(pid, other_img)
    api.annotate(pid, ex["id"], ex_lab)
    return pid, ex, other
