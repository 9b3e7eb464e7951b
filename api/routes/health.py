from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException
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


def metrics_token(authorization: Annotated[str | None, Header()] = None) -> None:
    """With ``ELSNET_METRICS_TOKEN`` set, /metrics answers only a scraper that sends it; unset,
    it is open like /health. API keys are not accepted: a scraper should not hold a data key."""
    token = get_settings().metrics_token
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        return
    sent = authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else ""
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(
            status_code=401,
            detail=("missing or wrong metrics token: this service sets ELSNET_METRICS_TOKEN, so /metrics needs "
                    "'Authorization: Bearer <that token>' (Prometheus scrape config: `authorization: "
                    "{credentials: <token>}`, or `bearer_token: <token>` in older versions); API keys are "
                    "not accepted here (a scraper should not hold a key to patient data)"),
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(metrics_token)])
def metrics(session: SessionDep) -> PlainTextResponse:
    """Prometheus metrics: aggregates only (no names, ids or patient data). No API key: open like
    /health, or, with ``ELSNET_METRICS_TOKEN`` set, for the bearer of that token only; keep it on
    the network the monitoring uses (docs/API.md, "Service")."""
    body = monitoring.render(monitoring.collect(session, get_settings().heartbeat_timeout_s))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
