"""Alembic owns the schema: it goes up and down cleanly on SQLite and PostgreSQL, and the
migrated schema matches the SQLAlchemy models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from store.migrate import downgrade, upgrade
from store.models import Base

TABLES = {"api_keys", "projects", "studies", "jobs", "job_events", "models", "masks", "idempotency_keys",
          "webhooks", "webhook_deliveries", "audit_events"}


def _check_up_down(url: str) -> None:
    upgrade(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    downgrade(url, "base")
    assert not (TABLES & set(inspect(engine).get_table_names()))
    upgrade(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_migrations_sqlite(tmp_path: Path) -> None:
    _check_up_down(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migrations_postgres(pg_database: str) -> None:
    downgrade(pg_database, "base")
    _check_up_down(pg_database)
