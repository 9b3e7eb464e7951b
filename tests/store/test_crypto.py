"""Secrets at rest (store/crypto.py): encrypted with the operator's key, or with a key file the
home keeps when none is set; a value stored before encryption still reads."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from store.crypto import KEY_FILE, PREFIX, SecretKeyMismatch, seal, unseal
from store.db import reset_caches


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ELSNET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ELSNET_SECRET_KEY", raising=False)
    reset_caches()
    yield tmp_path / "home"
    reset_caches()


def test_without_a_key_setting_the_home_keeps_a_private_key_file_that_every_process_reads(home: Path) -> None:
    sealed = seal("whsec_abc")
    assert sealed.startswith(PREFIX) and "whsec_abc" not in sealed
    key_file = home / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    reset_caches()  # as another process of the same home would start
    assert unseal(sealed) == "whsec_abc" and seal("x") != seal("x")  # random IVs: no equal ciphertexts
    # another home (another key file) cannot read it
    key_file.write_text("a-different-key")
    with pytest.raises(SecretKeyMismatch, match="ELSNET_SECRET_KEY"):
        unseal(sealed)


def test_the_operator_key_wins_and_a_plain_legacy_value_reads_as_it_is(home: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELSNET_SECRET_KEY", "operator-" + "k" * 40)
    reset_caches()
    sealed = seal("whsec_def")
    assert not (home / KEY_FILE).exists()
    assert unseal(sealed) == "whsec_def"
    assert unseal("whsec_plain_from_before") == "whsec_plain_from_before"


def test_processes_starting_together_agree_on_one_key_file(home: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from store.crypto import _key_from_file

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: _key_from_file(home), range(32)))
    assert len(keys) == 1 and len(keys.pop()) == 44  # one complete key (32 random bytes, base64)
    assert [p.name for p in home.iterdir()] == [KEY_FILE]  # no temporary file left behind
