"""Shared fixtures: real PostgreSQL and Redis, service settings per test, real data paths."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLE = REPO / "samples" / "chaos_mr_t2"
PG_ADMIN = os.environ.get("ELSNET_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ELSNET_TEST_REDIS", "redis://127.0.0.1:6379")

SERVICE_ENV = ("DATABASE_URL", "BROKER_URL", "STORAGE_URL", "ELSNET_HOME", "ELSNET_BOOTSTRAP_KEY",
               "ELSNET_MAX_UPLOAD_BYTES", "ELSNET_HEARTBEAT_TIMEOUT_S", "ELSNET_REAPER_INTERVAL_S",
               "ELSNET_HEARTBEAT_INTERVAL_S", "ELSNET_ENV", "ELSNET_WORK_DIR", "ELSNET_SECRET_KEY",
               "ELSNET_METRICS_TOKEN")
# one secret key for every test home: the session's PostgreSQL database outlives each test's
# home, and its webhook secrets must decrypt in all of them (store/crypto.py; tests/store/test_crypto.py
# covers the key file a home gets without it)
TEST_SECRET_KEY = "elsnet-tests-" + "k" * 40
os.environ.setdefault("ELSNET_SECRET_KEY", TEST_SECRET_KEY)  # tests that use no configure() too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    from sqlalchemy import create_engine, text

    name = f"elsnet_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem, reported clearly
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}. Run `make services`.")
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as c:
        c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    db = 1 + (os.getpid() % 14)
    url = f"{REDIS_URL}/{db}"
    try:
        redis.Redis.from_url(url).flushdb()
    except Exception as exc:  # pragma: no cover
        pytest.fail(f"Redis not reachable at {url}: {exc}. Run `make services`.")
    return url


def configure(monkeypatch: pytest.MonkeyPatch, home: Path, **env: str) -> dict[str, str]:
    """Point the service settings at ``home`` (+ overrides) for this process and children."""
    from store.db import reset_caches

    for k in SERVICE_ENV:
        monkeypatch.delenv(k, raising=False)
    values = {"ELSNET_HOME": str(home), "ELSNET_ENV": "test", "ELSNET_SECRET_KEY": TEST_SECRET_KEY, **env}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    reset_caches()
    return values


@pytest.fixture
def pg_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: str) -> dict[str, str]:
    """Service settings on real PostgreSQL (schema migrated), local storage, filesystem broker."""
    from store.migrate import upgrade

    env = configure(monkeypatch, tmp_path / "home", DATABASE_URL=pg_database)
    upgrade(pg_database)
    yield env
    from store.db import reset_caches

    reset_caches()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from store.migrate import upgrade

    env = configure(monkeypatch, tmp_path / "home")
    (tmp_path / "home").mkdir(parents=True, exist_ok=True)
    upgrade()
    yield env
    from store.db import reset_caches

    reset_caches()


class WorkerProcess:
    """A real Celery worker process (its own process group, so it can be killed with -9)."""

    def __init__(self, env: dict[str, str], log: Path, queues: str = "train,infer") -> None:
        full = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q", queues, "-c", "1",
             "--loglevel", "INFO", "-n", f"test-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle"],
            cwd=REPO, env=full, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
        )

    def wait_ready(self, timeout: float = 90) -> None:
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.log.exists() and "ready." in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        raise TimeoutError(f"worker not ready: {self.log.read_text(errors='replace')[-3000:]}")

    def kill(self, sig: int = 9) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill(15)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator:
    workers: list[WorkerProcess] = []

    def _start(env: dict[str, str], name: str = "worker") -> WorkerProcess:
        w = WorkerProcess(env, tmp_path / f"{name}.log")
        workers.append(w)
        w.wait_ready()
        return w

    yield _start
    for w in workers:
        w.stop()


def small_chaos_case(case: str, dest: Path, factor: int = 4) -> tuple[Path, Path]:
    """A real CHAOS case (bundled sample) downsampled in-plane by ``factor`` (image, label)."""
    import nibabel as nib
    import numpy as np

    out = []
    for kind in ("images", "labels"):
        img = nib.load(str(SAMPLE / kind / f"{case}.nii.gz"))
        data = np.asanyarray(img.dataobj)[::factor, ::factor, :]
        aff = img.affine.copy()
        aff[:3, :2] *= factor
        new = nib.Nifti1Image(data.astype(np.uint8 if kind == "labels" else np.float32), aff)
        path = dest / f"{case}_{kind}.nii.gz"
        nib.save(new, str(path))
        out.append(path)
    return out[0], out[1]


ORTHANC_BIN = "/usr/sbin/Orthanc"
ORTHANC_DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Orthanc PACS with its DICOMweb plugin (Debian packages orthanc, orthanc-dicomweb;
    `make services` installs them), on free ports, storing in a temporary folder. Yields the
    DICOMweb root URL (``http://127.0.0.1:<port>/dicom-web``)."""
    import json

    import httpx

    if not (Path(ORTHANC_BIN).exists() and Path(ORTHANC_DICOMWEB_PLUGIN).exists()):
        pytest.fail("Orthanc with its DICOMweb plugin is not installed: run `make services` "
                    "(installs the Debian packages orthanc and orthanc-dicomweb)")
    home = tmp_path_factory.mktemp("orthanc")
    port = free_port()
    config = {
        "Name": "ELSNET-TEST", "HttpPort": port, "DicomServerEnabled": False,
        "StorageDirectory": str(home / "db"), "IndexDirectory": str(home / "db"),
        "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
        "RegisteredUsers": {"elsnet": "test-password"},
        "Plugins": [ORTHANC_DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (home / "orthanc.json").write_text(json.dumps(config))
    log = home / "orthanc.log"
    proc = subprocess.Popen([ORTHANC_BIN, str(home / "orthanc.json")], cwd=home,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            if proc.poll() is not None:
                pytest.fail(f"Orthanc exited: {log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/dicom-web/studies", auth=("elsnet", "test-password"), timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"Orthanc did not answer: {log.read_text(errors='replace')[-2000:]}")
        yield f"{base}/dicom-web"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
