"""Secrets at rest: values the service must read back in plain (webhook signing keys) are
stored encrypted, so a database dump or backup does not hand them out.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key derived from
``ELSNET_SECRET_KEY``. Without that setting (the embedded default) the key is a random one kept
in ``$ELSNET_HOME/secret.key`` (mode 0600, created on first use, shared by the API and the
workers of that home); ``ELSNET_ENV=production`` refuses to start without it (store/settings.py).
Stored values carry a version prefix; a value without it is a plain value written before
encryption existed and is returned as it is.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from store.settings import get_settings

log = logging.getLogger(__name__)

PREFIX = "enc1:"
KEY_FILE = "secret.key"


class SecretKeyMismatch(RuntimeError):
    """A stored secret cannot be decrypted with this service's key (ELSNET_SECRET_KEY changed?)."""


def _key_from_file(home: Path) -> str:
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # written whole under another name, then linked into place: a process that starts at the
        # same moment finds either no key file or the complete one, and the first link wins
        fd, tmp = tempfile.mkstemp(dir=home, prefix=".secret-")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
            os.chmod(tmp, 0o600)
            os.link(tmp, path)
            log.info("created the secret key %s (set ELSNET_SECRET_KEY to manage it yourself)", path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


@lru_cache
def _fernet(material: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def _current() -> Fernet:
    s = get_settings()
    material = s.secret_key.get_secret_value() if s.secret_key is not None else _key_from_file(s.home)
    return _fernet(material)


def seal(plain: str) -> str:
    """The stored form of ``plain``."""
    return PREFIX + _current().encrypt(plain.encode()).decode()


def unseal(stored: str) -> str:
    """``plain`` back from :func:`seal`'s output (a value without the prefix is returned as is)."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _current().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise SecretKeyMismatch(
            "a stored secret does not decrypt with this service's key: ELSNET_SECRET_KEY (or "
            f"$ELSNET_HOME/{KEY_FILE}) differs from the one it was stored with"
        ) from exc
