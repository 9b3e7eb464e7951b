"""HTTP layer: FastAPI routes, schemas, dependencies and error mapping. Never imports torch,
elsnet_core or worker/: jobs are enqueued by task name through store.queue."""
