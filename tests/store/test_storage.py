"""The storage interface behaves the same on the local folder and on an S3 API
(moto's standalone S3 server on loopback: a real HTTP S3 endpoint driven through boto3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.errors import NotFound
from store.storage import LocalStore, ObjectStore


def test_roundtrip_exists_delete_prefix(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 4096  # 1 MiB, byte-exact round trip
    src.write_bytes(payload)
    store.put_file("projects/p/studies/s/volume.nii.gz", src)
    store.put_bytes("projects/p/studies/s/note.txt", b"hello")
    assert store.exists("projects/p/studies/s/volume.nii.gz")
    assert store.get_to_path("projects/p/studies/s/volume.nii.gz", tmp_path / "out.bin").read_bytes() == payload
    assert store.get_bytes("projects/p/studies/s/note.txt") == b"hello"
    stream = store.open_read("projects/p/studies/s/volume.nii.gz")  # a download, chunk by chunk
    try:
        assert b"".join(iter(lambda: stream.read(100_000), b"")) == payload
    finally:
        stream.close()
    with pytest.raises(NotFound):
        store.open_read("projects/p/studies/s/missing.zip")
    store.delete_prefix("projects/p")
    assert not store.exists("projects/p/studies/s/volume.nii.gz")
    with pytest.raises(NotFound):
        store.get_bytes("projects/p/studies/s/note.txt")
    store.ping()


def test_keys_cannot_escape_the_store(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    for bad in ("../x", "/etc/passwd", "a//b", "a/./b"):
        with pytest.raises(ValueError):
            store.put_bytes(bad, b"x")


def test_failed_write_keeps_the_previous_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    store.put_bytes("k/v", b"old")
    with pytest.raises(FileNotFoundError):
        store.put_file("k/v", tmp_path / "missing")
    assert store.get_bytes("k/v") == b"old"
    assert [p.name for p in (tmp_path / "objects" / "k").iterdir()] == ["v"]  # no temp leftovers
