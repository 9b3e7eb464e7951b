"""Celery tasks: ids in, nothing out. The logic lives in worker.pipeline."""

from __future__ import annotations

from worker.celery_app import app


@app.task(name="elsnet.train", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train(job_id: str, attempt: int = 1) -> None:
    from worker.pipeline import run_job

    run_job(job_id, attempt)


@app.task(name="elsnet.infer", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def infer(job_id: str, attempt: int = 1) -> None:
    from worker.pipeline import run_job

    run_job(job_id, attempt)


@app.task(name="elsnet.import", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_studies(job_id: str, attempt: int = 1) -> None:
    from worker.pipeline import run_job

    run_job(job_id, attempt)


@app.task(name="elsnet.evaluate", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def evaluate(job_id: str, attempt: int = 1) -> None:
    from worker.pipeline import run_job

    run_job(job_id, attempt)


@app.task(name="elsnet.rank", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def rank(job_id: str, attempt: int = 1) -> None:
    from worker.pipeline import run_job

    run_job(job_id, attempt)


@app.task(name="elsnet.export", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export(job_id: str, attempt: int = 1) -> None:
    from worker.pipeline import run_job

    run_job(job_id, attempt)
