"""The floor shared by api/ and worker/: settings, database tables and sessions, object storage,
volume ingestion, job bookkeeping and the Celery client config.

No FastAPI, no torch, no elsnet_core here: both the web process and the GPU worker import this.
"""
