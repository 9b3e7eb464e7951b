"""Celery configuration shared by the API (which only sends tasks by name) and the worker.

Jobs live in the database; Celery is transport. Tasks take ids only.
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery
from kombu import Queue

from store.settings import Settings, get_settings

TRAIN_QUEUE = "train"
INFER_QUEUE = "infer"
# imports from a PACS are I/O, not GPU work: they share the inference queue, and so do
# evaluations (inference where a mask is missing, then metrics), exemplar rankings (reading
# the studies, then seconds of CPU work: which study to annotate) and cohort exports (the masks
# zipped, as NIfTI or DICOM SEG, into the object store)
TASK_FOR_KIND = {"train": ("elsnet.train", TRAIN_QUEUE), "infer": ("elsnet.infer", INFER_QUEUE),
                 "import": ("elsnet.import", INFER_QUEUE), "evaluate": ("elsnet.evaluate", INFER_QUEUE),
                 "rank": ("elsnet.rank", INFER_QUEUE), "export": ("elsnet.export", INFER_QUEUE)}


def make_celery(settings: Settings) -> Celery:
    app = Celery("elsnet", broker=settings.broker_url)
    transport_options: dict[str, object] = {"visibility_timeout": settings.visibility_timeout_s}
    if settings.is_embedded_broker:
        folder = settings.broker_folder
        for sub in ("in", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder / "in"),
            "data_folder_out": str(folder / "in"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "control_folder": str(folder / "control"),
        }
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=1,  # a fresh process per job frees all (GPU) memory
        task_queues=[Queue(TRAIN_QUEUE), Queue(INFER_QUEUE)],
        task_default_queue=INFER_QUEUE,
        task_routes={task: {"queue": queue} for task, queue in TASK_FOR_KIND.values()},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


@lru_cache
def get_celery() -> Celery:
    return make_celery(get_settings())


def enqueue_job(job_id: str, kind: str, attempt: int) -> None:
    name, queue = TASK_FOR_KIND[kind]
    get_celery().send_task(name, kwargs={"job_id": job_id, "attempt": attempt}, queue=queue)


def ping_broker() -> None:
    settings = get_settings()
    if settings.is_embedded_broker:
        get_celery()  # creates the broker folders
        if not (settings.broker_folder / "in").is_dir():
            raise OSError(f"broker folder {settings.broker_folder} missing")
        return
    with get_celery().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
