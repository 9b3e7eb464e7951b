"""The FastAPI application: ``uvicorn api.main:app`` (or ``elsnet serve``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.errors import install_error_handlers
from api.routes import audit as audit_routes
from api.routes import dicomweb, exports, health, jobs, keys, models, projects, studies, webhooks
from store import audit
from store.auth import create_key
from store.db import get_sessionmaker, session_scope
from store.settings import get_settings

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    if settings.bootstrap_key:
        with session_scope() as s:
            create_key(s, "bootstrap", role="admin", value=settings.bootstrap_key)
    yield


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="ELSNet service",
        version="1.0.0",
        description="One annotated study -> a segmentation model for the whole cohort. "
        "All /api/v1 routes need `Authorization: Bearer <api key>`.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    @app.middleware("http")
    async def limit_upload_size(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_upload_bytes + 1024 * 1024:
            return JSONResponse(
                status_code=413,
                content={"detail": f"upload of {length} bytes exceeds the limit of {settings.max_upload_bytes} bytes"},
            )
        return await call_next(request)

    @app.middleware("http")
    async def audit_trail(request: Request, call_next):
        """Record changing requests and downloads of patient data (store/audit.py)."""
        action = audit.classify(request.method, request.url.path)
        response = await call_next(request)
        if action is not None:
            key = getattr(request.state, "audit_key", None)
            client = request.client.host if request.client else None
            try:
                await run_in_threadpool(audit.record, get_sessionmaker(), action=action, method=request.method,
                                        path=request.url.path, status_code=response.status_code, key=key,
                                        client=client,
                                        project_id=getattr(request.state, "audit_project_id", None))
            except Exception:  # the answer is already made; the failure is logged loudly
                log.exception("audit trail: could not record %s %s", request.method, request.url.path)
        return response

    for r in (health.router, projects.router, studies.router, jobs.router, models.router, dicomweb.router, keys.router,
              webhooks.router, audit_routes.router, exports.router):
        app.include_router(r)
    frontend = settings.frontend_dir or REPO_ROOT / "frontend" / "dist"
    if (frontend / "index.html").exists():
        app.mount("/", StaticFiles(directory=frontend, html=True), name="frontend")
    else:
        @app.get("/", include_in_schema=False)
        def _no_frontend() -> JSONResponse:
            return JSONResponse({"detail": "web page not built: run `make frontend`; the API is at /docs"})

    return app


app = create_app()
