"""Object storage behind one small interface: a local folder (embedded default) or S3.

Keys are POSIX-style relative paths (``projects/<id>/studies/<id>/volume.nii.gz``). Writes are
atomic: a reader never sees a half-written object, and a failed write leaves the old one intact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from store.errors import NotFound
from store.settings import get_settings


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime  # UTC


class ReadStream(Protocol):
    """An object opened for reading: ``read(n)`` returns up to ``n`` bytes, ``b""`` at the end."""

    def read(self, n: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_to_path(self, key: str, path: Path) -> Path: ...
    def get_bytes(self, key: str) -> bytes: ...
    def open_read(self, key: str) -> ReadStream: ...
    def exists(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def ping(self) -> None: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return key


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _atomic_write(self, key: str, writer) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                writer(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path) -> None:
        def copy(fh: BinaryIO) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fh, 1024 * 1024)

        self._atomic_write(key, copy)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda fh: fh.write(data))

    def get_to_path(self, key: str, path: Path) -> Path:
        src = self._path(key)
        if not src.exists():
            raise NotFound(f"object {key} not found")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)
        return path

    def get_bytes(self, key: str) -> bytes:
        src = self._path(key)
        if not src.exists():
            raise NotFound(f"object {key} not found")
        return src.read_bytes()

    def open_read(self, key: str) -> ReadStream:
        """The object as a stream (a large download is sent without a copy); NotFound at once."""
        try:
            return open(self._path(key), "rb")  # the caller closes it
        except FileNotFoundError:
            raise NotFound(f"object {key} not found") from None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists():
            target.unlink()

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (an interrupted write's ``.tmp-`` file too)."""
        for path in sorted(self.root.rglob("*")):
            if not path.is_file():
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                st = path.stat()
                yield ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"object store folder {self.root} is not writable")


class S3Store:
    """S3-compatible storage (AWS, MinIO, Ceph). Credentials come from the standard AWS variables."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def _k(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._k(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data)

    def get_to_path(self, key: str, path: Path) -> Path:
        from botocore.exceptions import ClientError

        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, self._k(key), str(path))
        except ClientError as exc:
            raise NotFound(f"object {key} not found") from exc
        return path

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read()
        except ClientError as exc:
            raise NotFound(f"object {key} not found") from exc

    def open_read(self, key: str) -> ReadStream:
        """The object's body as it arrives from S3 (never held whole in memory); NotFound at once."""
        from botocore.exceptions import ClientError

        try:
            body: ReadStream = self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"]
        except ClientError as exc:
            raise NotFound(f"object {key} not found") from exc
        return body

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError:
            return False

    def delete_prefix(self, prefix: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._k(prefix.rstrip("/"))):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objs})

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key (below the store's prefix) starts with ``prefix``."""
        paginator = self.client.get_paginator("list_objects_v2")
        base = f"{self.prefix}/" if self.prefix else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix):
            for o in page.get("Contents", []):
                yield ObjectInfo(o["Key"][len(base):], int(o["Size"]), o["LastModified"].astimezone(UTC))

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def make_store(url: str, endpoint_url: str | None = None) -> ObjectStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path))
    if parsed.scheme == "s3":
        return S3Store(parsed.netloc, parsed.path, endpoint_url)
    raise ValueError(f"STORAGE_URL must be file:///path or s3://bucket/prefix, got {url!r}")


@lru_cache
def get_store() -> ObjectStore:
    s = get_settings()
    return make_store(s.storage_url, s.s3_endpoint_url)
