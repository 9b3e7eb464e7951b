"""Deployment settings from the environment: what an operator writes is read, or refused clearly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from store.settings import Settings


@pytest.mark.parametrize("raw", ["", "  ", "{}"])
def test_no_dicomweb_server_when_unset_or_empty(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELSNET_DICOMWEB_SERVERS", raw)
    assert Settings().dicomweb_servers == {}


def test_dicomweb_servers_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELSNET_DICOMWEB_SERVERS",
                       '{"pacs": {"url": "http://orthanc:8042/dicom-web", "username": "u", "password": "p"},'
                       ' "vna": {"url": "https://vna/dicomweb", "token": "t", "timeout_s": 5}}')
    servers = Settings().dicomweb_servers
    assert sorted(servers) == ["pacs", "vna"]
    assert (servers["pacs"].username, servers["pacs"].password, servers["pacs"].timeout_s) == ("u", "p", 60.0)
    assert (servers["vna"].token, servers["vna"].timeout_s) == ("t", 5.0)


@pytest.mark.parametrize(("raw", "says"), [("{bad", "not valid JSON"), ('{"pacs": {"user": "x"}}', "url")])
def test_a_wrong_dicomweb_setting_stops_the_start_with_the_reason(raw: str, says: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELSNET_DICOMWEB_SERVERS", raw)
    with pytest.raises(ValidationError, match=says):
        Settings()


@pytest.mark.parametrize("key", [None, "short"])
def test_production_refuses_to_start_without_a_real_secret_key(key: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELSNET_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/elsnet")
    monkeypatch.setenv("BROKER_URL", "redis://redis:6379/0")
    monkeypatch.delenv("ELSNET_SECRET_KEY", raising=False)
    if key is not None:
        monkeypatch.setenv("ELSNET_SECRET_KEY", key)
    with pytest.raises(ValidationError, match="ELSNET_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("ELSNET_SECRET_KEY", "x" * 64)
    assert Settings().secret_key is not None
