"""The one-way layers hold at import time (STYLE.md)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def _loaded_after(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return {m.split(".")[0] for m in json.loads(out.stdout)}


def test_api_does_not_load_torch_core_or_worker() -> None:
    mods = _loaded_after("api.main")
    assert "fastapi" in mods
    assert not ({"torch", "elsnet_core", "worker"} & mods)


def test_worker_does_not_load_the_web_layer() -> None:
    mods = _loaded_after("worker.tasks")
    assert "celery" in mods
    assert not ({"fastapi", "starlette", "api", "uvicorn"} & mods)


def test_core_knows_nothing_of_the_service() -> None:
    mods = _loaded_after("elsnet_core")
    assert not ({"fastapi", "starlette", "celery", "kombu", "sqlalchemy", "api", "worker", "store"} & mods)


def test_the_dicom_checks_shared_by_store_and_core_load_neither() -> None:
    mods = _loaded_after("dicom_geometry")
    assert "pydicom" in mods
    assert not ({"torch", "SimpleITK", "elsnet_core", "store", "api", "worker", "sqlalchemy", "fastapi"} & mods)
