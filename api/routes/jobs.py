from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api import idempotency
from api.deps import CurrentKey, IdempotencyKey, JobDep, ProjectDep, SessionDep
from api.schemas import JobCreate, JobEventPublic, JobEventsPublic, JobPublic, JobsPublic
from store import cohort, services
from store.db import get_sessionmaker
from store.errors import NotFound
from store.jobs import TERMINAL
from store.models import Job, JobEvent
from store.storage import ReadStream, get_store

router = APIRouter(tags=["jobs"])


def job_public(job: Job) -> JobPublic:
    out = JobPublic.model_validate(job)
    out.preset = (job.params or {}).get("preset")
    out.format = (job.params or {}).get("format")
    return out


@router.post("/api/v1/projects/{project_id}/jobs", status_code=202, response_model=JobPublic)
def create_job(
    project: ProjectDep, body: JobCreate, session: SessionDep, key: CurrentKey, request: Request, idem: IdempotencyKey = None
) -> JSONResponse:
    created: list[Job] = []

    def produce():
        job = services.create_job(session, project, body.kind, body.model_dump(exclude_none=True))
        created.append(job)
        return 202, job_public(job)

    fp = idempotency.fingerprint("POST", request.url.path, body.model_dump())
    # Create the row, commit, then send the task: the jobs table is the truth.
    def send() -> None:
        for job in created:
            services.submit(job)

    return idempotency.run(session, key, idem, fp, produce, after_commit=send)


@router.get("/api/v1/projects/{project_id}/jobs", response_model=JobsPublic)
def list_jobs(project: ProjectDep, session: SessionDep) -> JobsPublic:
    jobs = session.scalars(select(Job).where(Job.project_id == project.id).order_by(Job.created_at.desc())).all()
    return JobsPublic(data=[job_public(j) for j in jobs], count=len(jobs))


@router.get("/api/v1/jobs/{job_id}", response_model=JobPublic)
def read_job(job: JobDep) -> JobPublic:
    return job_public(job)


@router.post("/api/v1/jobs/{job_id}/cancel", status_code=202, response_model=JobPublic)
def cancel_job(job: JobDep, session: SessionDep) -> JobPublic:
    job = services.cancel_job(session, job)
    session.commit()
    return job_public(job)


@router.get("/api/v1/jobs/{job_id}/metrics", response_model=JobEventsPublic)
def job_metrics(job: JobDep, session: SessionDep) -> JobEventsPublic:
    events = session.scalars(select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.seq)).all()
    return JobEventsPublic(data=[JobEventPublic.model_validate(e) for e in events], count=len(events))


def _chunks(stream: ReadStream, size: int = 1024 * 1024) -> Iterator[bytes]:
    try:
        while chunk := stream.read(size):
            yield chunk
    finally:
        stream.close()


@router.get("/api/v1/jobs/{job_id}/download", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}}})
def download_export(job: JobDep) -> StreamingResponse:
    """An ``export`` job's zip, streamed from the object store (as ``GET .../masks.zip`` would give
    it); 404 saying what to do while it is not finished or for another kind, 410 once expired."""
    key, name, size = cohort.export_download(job)
    try:
        stream = get_store().open_read(key)
    except NotFound:  # deleted between the reaper's delete and its mark (store/cohort.py)
        raise cohort.gone(job) from None
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Content-Length": str(size)}
    return StreamingResponse(_chunks(stream), media_type="application/zip", headers=headers)


def _poll(job_id: str, after: int) -> tuple[list[dict], str, JobPublic]:
    with get_sessionmaker()() as s:
        job = services.get_job(s, job_id)
        events = s.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after).order_by(JobEvent.seq)
        ).all()
        rows = [JobEventPublic.model_validate(e).model_dump(mode="json") for e in events]
        return rows, job.state, job_public(job)


@router.get("/api/v1/jobs/{job_id}/events", response_class=StreamingResponse)
async def job_events(job: JobDep, request: Request) -> StreamingResponse:
    """Server-Sent Events: one ``data:`` line per progress event; ends when the job ends."""
    job_id = job.id  # found and in the key's scope (else 404 before the stream starts)

    async def stream() -> AsyncIterator[str]:
        last = 0
        while True:
            rows, state, job = await run_in_threadpool(_poll, job_id, last)
            for row in rows:
                last = row["seq"]
                yield f"id: {row['seq']}\ndata: {json.dumps({**row, 'state': state})}\n\n"
            if state in TERMINAL:
                final = {"seq": last, "stage": job.stage, "progress": job.progress, "eta_s": 0,
                         "metrics": job.metrics, "message": job.error or state, "state": state}
                yield f"event: end\ndata: {json.dumps(final)}\n\n"
                return
            if await request.is_disconnected():
                return
            yield ": keep-alive\n\n"
            await asyncio.sleep(0.5)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
