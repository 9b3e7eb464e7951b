"""The worker's Celery app: ``celery -A worker.celery_app worker -Q train,infer``."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from celery.signals import worker_process_init, worker_ready, worker_shutdown

from store.queue import make_celery
from store.settings import get_settings

log = logging.getLogger(__name__)

app = make_celery(get_settings())
app.conf.imports = ["worker.tasks"]

_stop_reaper = threading.Event()


def _reaper_loop() -> None:
    from worker.reaper import reap_once

    settings = get_settings()
    while not _stop_reaper.is_set():
        try:
            reap_once()
        except Exception:  # the reaper must never kill the worker; it retries next tick
            log.exception("reaper tick failed")
        _stop_reaper.wait(settings.reaper_interval_s)


def _webhook_loop() -> None:
    """Send due webhook deliveries every ``webhook_interval_s`` (every worker runs one; the
    claims in ``store.webhooks`` keep two workers from sending the same delivery)."""
    import httpx

    from worker.webhooks import deliver_once

    settings = get_settings()
    with httpx.Client(timeout=settings.webhook_timeout_s) as client:
        while not _stop_reaper.is_set():
            try:
                deliver_once(client)
            except Exception:  # like the reaper: never kill the worker, retry next tick
                log.exception("webhook delivery tick failed")
            _stop_reaper.wait(settings.webhook_interval_s)


def _watch_parent(parent_pid: int) -> None:
    """Cold-shut this worker down when the process that started it is gone.

    ``elsnet serve`` starts its embedded worker in a session of its own; if ``serve`` dies
    without running its cleanup (SIGKILL, a crash), the worker would live on as an orphan
    holding the broker. Its running job, if any, is not lost: its heartbeat stops and the
    reaper of the next worker requeues it.
    """
    while not _stop_reaper.wait(2.0):
        if os.getppid() != parent_pid:
            log.warning("parent process %d is gone: shutting the embedded worker down", parent_pid)
            os.kill(os.getpid(), signal.SIGQUIT)
            return


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    threading.Thread(target=_reaper_loop, name="elsnet-reaper", daemon=True).start()
    threading.Thread(target=_webhook_loop, name="elsnet-webhooks", daemon=True).start()
    parent = os.environ.get("ELSNET_PARENT_PID")
    if parent and parent.isdigit():
        threading.Thread(target=_watch_parent, args=(int(parent),), name="elsnet-parent-watch",
                         daemon=True).start()
    log.info("worker ready on %s; reaper and webhook delivery started", socket.gethostname())


@worker_process_init.connect
def _fresh_connections_in_child(**_: object) -> None:
    """A forked pool child must never reuse the parent's database sockets (the reaper's)."""
    from store.db import get_engine

    get_engine().dispose(close=False)


@worker_shutdown.connect
def _stop(**_: object) -> None:
    _stop_reaper.set()
