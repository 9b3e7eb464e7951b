from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from api.deps import SessionDep
from store import monitoring
from store.db import get_engine
from store.queue import ping_broker
from store.settings import get_settings
from store.storage import get_store

router = APIRouter(tags=["service"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
def ready() -> JSONResponse:
    checks: dict[str, str] = {}
    for name, probe in (
        ("database", lambda: get_engine().connect().execute(text("SELECT 1")).close()),
        ("broker", ping_broker),
        ("storage", lambda: get_store().ping()),
    ):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # report which dependency is down, never 500
            checks[name] = f"unavailable: {exc.__class__.__name__}: {exc}"[:300]
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(status_code=200 if ok else 503, content={"status": "ready" if ok else "not ready", **checks})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(session: SessionDep) -> PlainTextResponse:
    """Prometheus metrics: aggregates only (no names, ids or patient data), so, like /health,
    no API key; keep it on the network the monitoring uses (docs/API.md, "Service")."""
    body = monitoring.render(monitoring.collect(session, get_settings().heartbeat_timeout_s))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
