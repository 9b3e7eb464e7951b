"""Celery worker: thin tasks that load a job by id, call elsnet_core, store the results.

Never imports api/ or FastAPI. elsnet_core (and torch) is imported inside the task, in the
pool's child process, so the supervising process stays light.
"""
