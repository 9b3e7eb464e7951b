# One image for the API and the workers. On a GPU host, torch==2.13.0 from PyPI is the CUDA
# build; the worker uses CUDA when the container sees a GPU (docker-compose: `gpus: all`).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY store store
COPY elsnet_core elsnet_core
COPY migrations migrations
COPY alembic.ini elsnet_cli.py demo.py dicom_geometry.py ./
RUN pip install .
COPY frontend frontend
RUN cd frontend && npm ci --no-audit --no-fund && npm run build && rm -rf node_modules
ENV ELSNET_FRONTEND_DIR=/app/frontend/dist ELSNET_HOME=/var/lib/elsnet
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]
