"""Celery tasks: ids in, nothing out. The logic lives in worker.pipeline.

One task per job kind, named and routed by ``store.queue.TASK_FOR_KIND`` (``elsnet.train``,
``elsnet.infer``, ``elsnet.import``, ``elsnet.evaluate``, ``elsnet.rank``, ``elsnet.export``);
every one runs :func:`worker.pipeline.run_job`, which dispatches on the job row's kind. A new
job kind needs its table entry and its branch in ``run_job``, nothing here.
"""

from __future__ import annotations

from celery import Task

from store.queue import TASK_FOR_KIND
from worker.celery_app import app


def _job_task(name: str) -> Task:
    @app.task(name=name, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run(job_id: str, attempt: int = 1) -> None:
        from worker.pipeline import run_job

        run_job(job_id, attempt)

    return run


TASKS: dict[str, Task] = {kind: _job_task(name) for kind, (name, _queue) in TASK_FOR_KIND.items()}
