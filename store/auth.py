"""API keys: random tokens, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import Conflict, NotFound
from store.models import ApiKey, utcnow

#: the first characters of a key, kept in plain to tell keys apart in lists and the audit trail:
#: "els_" + 8 random URL-safe characters (48 bits)
KEY_PREFIX_CHARS = 12


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _row(name: str, plain: str, is_admin: bool) -> ApiKey:
    return ApiKey(name=name, prefix=plain[:KEY_PREFIX_CHARS], key_hash=hash_key(plain), is_admin=is_admin)


def create_key(session: Session, name: str, *, is_admin: bool = False, value: str | None = None) -> str:
    """Create a key and return its plain value (shown once; only the hash is stored)."""
    plain = value or "els_" + secrets.token_urlsafe(32)
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if existing is None:
        session.add(_row(name, plain, is_admin))
        session.flush()
    return plain


def issue_key(session: Session, name: str, *, is_admin: bool = False) -> tuple[ApiKey, str]:
    """A new random key: its row and its plain value (the only time the value is known)."""
    plain = "els_" + secrets.token_urlsafe(32)
    key = _row(name, plain, is_admin)
    session.add(key)
    session.flush()
    return key, plain


def lookup_key(session: Session, plain: str) -> ApiKey | None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if key is None or key.revoked_at is not None:
        return None
    return key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(session: Session, key_id: str) -> ApiKey:
    """Revoke a key at once (its next request gets 401); revoking it again changes nothing.
    The last active admin key cannot be revoked: nobody could manage keys over HTTP after it."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is not None:
        return key
    if key.is_admin:
        # lock the active admin keys: two concurrent revocations cannot both pass this check
        admins = session.scalars(
            select(ApiKey.id).where(ApiKey.is_admin.is_(True), ApiKey.revoked_at.is_(None)).with_for_update()
        ).all()
        if list(admins) == [key.id]:
            raise Conflict(
                f"API key {key.id} ({key.name!r}) is the last active admin key: create another admin "
                "key first (POST /api/v1/keys with \"is_admin\": true, or `elsnet create-key --admin`), "
                "then revoke this one"
            )
    key.revoked_at = utcnow()
    return key
