"""Deployment settings, read from environment variables (one class for the whole service).

Embedded default (no variables set): SQLite file, local folder object store and kombu's
filesystem broker, all under ``ELSNET_HOME`` (default ``./.elsnet``). Production switches by
environment variables alone:

- ``DATABASE_URL``  e.g. ``postgresql+psycopg://user:pw@db:5432/elsnet``
- ``BROKER_URL``    e.g. ``redis://redis:6379/0``
- ``STORAGE_URL``   e.g. ``s3://bucket/prefix`` (with ``S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``) or ``file:///var/lib/elsnet/objects``
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class DicomwebServer(BaseModel):
    """A DICOMweb endpoint (PACS, VNA) the service may query, retrieve from and store to.

    Named in ``ELSNET_DICOMWEB_SERVERS`` (JSON), e.g.
    ``{"pacs": {"url": "http://orthanc:8042/dicom-web", "username": "elsnet", "password": "..."}}``.
    Only configured servers are reachable: API callers pick one by name, never by URL.
    """

    url: str
    username: str | None = None
    password: str | None = None
    token: str | None = None  # sent as "Authorization: Bearer <token>" when set
    timeout_s: float = 60.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ELSNET_", extra="ignore", frozen=True)

    env: Literal["development", "production", "test"] = "development"
    home: Path = Path(".elsnet")
    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "ELSNET_DATABASE_URL")
    )
    broker_url: str = Field(default="", validation_alias=AliasChoices("BROKER_URL", "ELSNET_BROKER_URL"))
    storage_url: str = Field(
        default="", validation_alias=AliasChoices("STORAGE_URL", "ELSNET_STORAGE_URL")
    )
    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("S3_ENDPOINT_URL", "ELSNET_S3_ENDPOINT_URL")
    )
    bootstrap_key: str | None = None
    # Key material for secrets stored encrypted (webhook signing keys; store/crypto.py). Unset:
    # a random key kept in $ELSNET_HOME/secret.key. Required with ELSNET_ENV=production.
    secret_key: SecretStr | None = None
    max_upload_bytes: int = 2 * 1024**3
    work_dir: Path | None = None
    frontend_dir: Path | None = None
    device: str = "auto"
    # DICOMweb servers by name (JSON in ELSNET_DICOMWEB_SERVERS); see DicomwebServer
    dicomweb_servers: Annotated[dict[str, DicomwebServer], NoDecode] = Field(default_factory=dict)
    # Jobs: a running job whose heartbeat is older than this is presumed dead and requeued.
    heartbeat_interval_s: float = 5.0
    heartbeat_timeout_s: float = 120.0
    reaper_interval_s: float = 15.0
    job_max_attempts: int = 3
    # Must exceed the longest job (Redis redelivers unacked messages after this).
    visibility_timeout_s: int = 12 * 3600
    # Webhooks (docs/webhooks.md): each worker sends due deliveries every interval; a delivery
    # that keeps failing ends 'failed' after this many attempts (backoff 10 s, 30 s, 90 s, ...).
    webhook_interval_s: float = 2.0
    webhook_max_attempts: int = 8
    webhook_timeout_s: float = 10.0
    # Hosts webhooks may point at, comma-separated shell patterns ("ris.hospital.org,*.lab.local");
    # empty = any host. IT can keep API keys from making the service call arbitrary addresses.
    webhook_allowed_hosts: str = ""
    # Audit trail retention in days: older events are deleted by the workers' reaper. 0 keeps
    # them forever (the default; many regulations ask for years: set it to your policy).
    audit_retention_days: int = Field(default=0, ge=0)
    # Cohort exports prepared by ``export`` jobs (zips of every mask: large) are deleted this many
    # hours after their job finished, by the workers' reaper (store/cohort.py).
    export_retention_hours: float = Field(default=24.0, gt=0)
    # GET /metrics: when set, a scraper must send "Authorization: Bearer <this token>" (API keys
    # are not accepted there); unset or empty, it is open (keep it on the monitoring network then).
    metrics_token: SecretStr | None = None

    @field_validator("dicomweb_servers", mode="before")
    @classmethod
    def _servers_from_json(cls, value: Any) -> Any:
        """ELSNET_DICOMWEB_SERVERS is JSON; unset or empty means no server."""
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"ELSNET_DICOMWEB_SERVERS is not valid JSON ({exc}); expected e.g. "
                                 '{"pacs": {"url": "http://orthanc:8042/dicom-web"}}') from exc
        return value

    @model_validator(mode="after")
    def _defaults_and_production_guard(self) -> Settings:
        home = self.home.resolve()
        object.__setattr__(self, "home", home)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{home / 'elsnet.db'}")
        if not self.broker_url:
            object.__setattr__(self, "broker_url", "filesystem://")
        if not self.storage_url:
            object.__setattr__(self, "storage_url", (home / "objects").as_uri())
        if self.work_dir is None:
            object.__setattr__(self, "work_dir", home / "work")
        if self.env == "production":
            if self.database_url.startswith("sqlite"):
                raise ValueError("ELSNET_ENV=production needs DATABASE_URL (PostgreSQL), not SQLite")
            if self.broker_url.startswith("filesystem"):
                raise ValueError("ELSNET_ENV=production needs BROKER_URL (e.g. redis://...)")
            if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("ELSNET_ENV=production needs ELSNET_SECRET_KEY, at least 32 random "
                                 "characters (e.g. `openssl rand -hex 32`): it encrypts the webhook "
                                 "signing secrets in the database; every API and worker process needs the same")
        return self

    @property
    def work(self) -> Path:
        """Scratch and per-job work files (checkpoints survive a worker crash here)."""
        return self.work_dir if self.work_dir is not None else self.home / "work"

    @property
    def broker_folder(self) -> Path:
        return self.home / "broker"

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem")


@lru_cache
def get_settings() -> Settings:
    return Settings()
