"""Alembic owns the schema: it goes up and down cleanly on SQLite and PostgreSQL, the migrated
schema matches the SQLAlchemy models, and data migrations keep what the data meant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with no schema, on SQLite and on PostgreSQL (left empty afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keys.db'}"
        return
    url = request.getfixturevalue("pg_database")
    downgrade(url, "base")
    yield url
    downgrade(url, "base")


def test_0004_keeps_the_power_of_existing_keys_and_downgrading_never_widens_it(empty_database: str) -> None:
    from store.auth import create_key, hash_key, lookup_key

    # given: a database of the version before roles, with an admin key and a plain key
    upgrade(empty_database, "0003")
    engine = create_engine(empty_database)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO api_keys (id, name, prefix, key_hash, is_admin, created_at) "
                 "VALUES (:id, :name, :prefix, :key_hash, :is_admin, :at)"),
            [{"id": "old-admin", "name": "it", "prefix": "els_oldadmin", "key_hash": hash_key("els_oldadmin-x"),
              "is_admin": True, "at": at},
             {"id": "old-plain", "name": "pacs", "prefix": "els_oldplain", "key_hash": hash_key("els_oldplain-x"),
              "is_admin": False, "at": at}],
        )
    # when
    upgrade(empty_database)
    # then: the admin key is an admin, the plain key an editor (it could change everything), neither scoped
    with Session(engine) as s:
        admin, plain = lookup_key(s, "els_oldadmin-x"), lookup_key(s, "els_oldplain-x")
        assert admin is not None and plain is not None
        assert (admin.role, admin.is_admin, admin.project_ids) == ("admin", True, None)
        assert (plain.role, plain.is_admin, plain.project_ids) == ("editor", False, None)
        # keys the old schema cannot express: a reader, and an editor limited to a project
        s.execute(text("INSERT INTO projects (id, name, labels, colors, auto_segment, created_at) "
                       "VALUES ('p1', 'p', '{}', '{}', false, :at)"), {"at": at})
        create_key(s, "viewer", role="reader", value="els_viewer00-x")
        create_key(s, "pacs p1", role="editor", project_ids=["p1"], value="els_scoped00-x")
        s.commit()
    # when: going back to the version before roles
    downgrade(empty_database, "0003")
    # then: admin and plain keys are as they were; the reader and the scoped key are revoked, since
    # the old schema would let them change every project
    with engine.connect() as conn:
        rows = {r.name: (bool(r.is_admin), r.revoked_at is not None)
                for r in conn.execute(text("SELECT name, is_admin, revoked_at FROM api_keys"))}
    assert rows == {"it": (True, False), "pacs": (False, False), "viewer": (False, True), "pacs p1": (False, True)}
    engine.dispose()


def test_0005_existing_studies_have_no_reference_and_models_no_evaluation_and_down_keeps_the_rows(
    empty_database: str,
) -> None:
    from store.models import Model, Study

    # given: a database of the version before reference masks, with a study and a model
    upgrade(empty_database, "0004")
    engine = create_engine(empty_database)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (id, name, labels, colors, auto_segment, created_at) "
                          "VALUES ('p1', 'p', '{\"1\": \"liver\"}', '{}', false, :at)"), {"at": at})
        conn.execute(text("INSERT INTO studies (id, project_id, name, modality, source_format, shape, spacing, affine, "
                          "sha256, size_bytes, original_keys, volume_key, created_at) VALUES ('s1', 'p1', 'case', 'MR', "
                          "'nifti', '[2, 2, 2]', '[1, 1, 1]', '[]', 'h', 1, '[]', 'k', :at)"), {"at": at})
        conn.execute(text("INSERT INTO models (id, project_id, job_id, artifact_key, config, metrics, exemplar_study_ids, "
                          "created_at) VALUES ('m1', 'p1', 'j1', 'a', '{}', '{}', '[\"s1\"]', :at)"), {"at": at})
    # when
    upgrade(empty_database)
    # then: no reference, never evaluated; both can be set
    with Session(engine) as s:
        study, model = s.get(Study, "s1"), s.get(Model, "m1")
        assert study is not None and model is not None
        assert (study.reference_key, study.reference_at, study.reference_voxels) == (None, None, None)
        assert model.evaluation is None and model.exemplar_study_ids == ["s1"]
        study.reference_key, study.reference_voxels = "projects/p1/studies/s1/reference/r.nii.gz", {"0": 7, "1": 1}
        model.evaluation = {"n_studies": 1, "mean_dice": 0.8}
        s.commit()
    with Session(engine) as s:
        got = s.get(Study, "s1")
        assert got is not None and got.reference_voxels == {"0": 7, "1": 1}
        assert s.get(Model, "m1").evaluation == {"n_studies": 1, "mean_dice": 0.8}  # type: ignore[union-attr]
    # when: going back, the study and model rows stay (only the new columns go)
    downgrade(empty_database, "0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM studies")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM models")).scalar() == 1
        cols = {c["name"] for c in inspect(conn).get_columns("studies")}
    assert not {"reference_key", "reference_at", "reference_voxels"} & cols
    engine.dispose()


def test_0006_encrypts_the_stored_webhook_secrets_and_down_gives_them_back(empty_database: str) -> None:
    from store.models import Webhook

    # given: a webhook whose secret was stored in plain (the version before 0006)
    upgrade(empty_database, "0005")
    engine = create_engine(empty_database)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    plain = "whsec_" + "ab" * 24
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (id, name, labels, colors, auto_segment, created_at) "
                          "VALUES ('p1', 'p', '{\"1\": \"liver\"}', '{}', false, :at)"), {"at": at})
        conn.execute(text("INSERT INTO webhooks (id, project_id, url, secret, events, created_at) "
                          "VALUES ('w1', 'p1', 'https://ris.example/h', :s, '[\"job.failed\"]', :at)"), {"s": plain, "at": at})
    # when
    upgrade(empty_database)
    # then: the column holds no plain secret any more, and the service still signs with it
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT secret FROM webhooks WHERE id = 'w1'")).scalar()
    assert stored.startswith("enc1:") and plain not in stored
    with Session(engine) as s:
        assert s.get(Webhook, "w1").secret == plain  # type: ignore[union-attr]
    # when: going back, the plain value returns (the old code reads it as it is)
    downgrade(empty_database, "0005")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT secret FROM webhooks WHERE id = 'w1'")).scalar() == plain
    engine.dispose()
