"""API keys: random tokens, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import ApiKey


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, *, is_admin: bool = False, value: str | None = None) -> str:
    """Create a key and return its plain value (shown once; only the hash is stored)."""
    plain = value or "els_" + secrets.token_urlsafe(32)
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if existing is None:
        session.add(ApiKey(name=name, prefix=plain[:8], key_hash=hash_key(plain), is_admin=is_admin))
        session.flush()
    return plain


def lookup_key(session: Session, plain: str) -> ApiKey | None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if key is None or key.revoked_at is not None:
        return None
    return key
