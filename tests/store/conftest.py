"""Fixtures of the store tests: the object store on a local folder and on a real S3 endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store.storage import ObjectStore, make_store
from tests.conftest import free_port


@pytest.fixture
def s3_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ObjectStore]:
    server_mod = pytest.importorskip("moto.server")
    import boto3

    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="elsnet")
    yield make_store("s3://elsnet/prefix", endpoint)
    server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return make_store((tmp_path / "objects").as_uri())
    return request.getfixturevalue("s3_store")
