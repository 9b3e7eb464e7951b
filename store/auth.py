"""API keys: random tokens, stored only as SHA-256 hashes, each with a role and an optional
project scope (least privilege; docs/API.md, "API keys").

Roles, each allowed what the one before it may do: ``reader`` (GET only: list, read, download),
``editor`` (also create, change and delete projects, studies, annotations, jobs, webhooks, PACS
imports and exports), ``admin`` (also manage keys and read the audit trail). A scope limits a key
to some projects (``project_ids``; NULL = all): the others do not exist for it (404).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import BadInput, Conflict, NotFound
from store.models import ApiKey, Project, utcnow

#: the first characters of a key, kept in plain to tell keys apart in lists and the audit trail:
#: "els_" + 8 random URL-safe characters (48 bits)
KEY_PREFIX_CHARS = 12
#: from least to most power: each role may do everything the roles before it may
ROLES = ("reader", "editor", "admin")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def role_allows(role: str, needed: str) -> bool:
    """Whether a key with ``role`` may do what needs ``needed`` (an unknown role may do nothing)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def reaches(key: ApiKey, project_id: str) -> bool:
    """Whether ``key`` may see the project (unscoped keys see every project)."""
    return not key.project_ids or project_id in key.project_ids


def scope_of(key: ApiKey) -> list[str] | None:
    """The project ids the key is limited to, or None for all projects."""
    return list(key.project_ids) if key.project_ids else None


def check_grant(session: Session, role: str, project_ids: Iterable[str] | None) -> list[str] | None:
    """Validate what a new key is to be allowed; returns its scope (None = all projects).
    Raises BadInput naming what is wrong: an unknown role, an unknown project id, an admin key
    limited to projects (an admin manages every key, so a scope could not hold it)."""
    if role not in ROLES:
        raise BadInput(f"role must be one of {list(ROLES)}, got {role!r}")
    ids = list(dict.fromkeys(p.strip() for p in (project_ids or []) if p.strip()))
    if not ids:
        return None
    if role == "admin":
        raise BadInput("an admin key cannot be limited to projects: it manages every key and reads the whole "
                       "audit trail; give the scope to an editor or reader key instead")
    known = set(session.scalars(select(Project.id).where(Project.id.in_(ids))))
    unknown = [p for p in ids if p not in known]
    if unknown:
        raise BadInput(f"project_ids: no such project {', '.join(unknown)} (GET /api/v1/projects lists them)")
    return ids


def _row(name: str, plain: str, role: str, project_ids: list[str] | None) -> ApiKey:
    return ApiKey(name=name, prefix=plain[:KEY_PREFIX_CHARS], key_hash=hash_key(plain), role=role,
                  project_ids=project_ids)


def create_key(session: Session, name: str, *, role: str = "editor", project_ids: Iterable[str] | None = None,
               value: str | None = None) -> str:
    """Create a key and return its plain value (shown once; only the hash is stored). A key
    with this ``value`` that exists already is kept as it is."""
    scope = check_grant(session, role, project_ids)
    plain = value or "els_" + secrets.token_urlsafe(32)
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if existing is None:
        session.add(_row(name, plain, role, scope))
        session.flush()
    return plain


def issue_key(session: Session, name: str, *, role: str = "editor",
              project_ids: Iterable[str] | None = None) -> tuple[ApiKey, str]:
    """A new random key: its row and its plain value (the only time the value is known)."""
    scope = check_grant(session, role, project_ids)
    plain = "els_" + secrets.token_urlsafe(32)
    key = _row(name, plain, role, scope)
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
    if key.role == "admin":
        # lock the active admin keys: two concurrent revocations cannot both pass this check
        admins = session.scalars(
            select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None)).with_for_update()
        ).all()
        if list(admins) == [key.id]:
            raise Conflict(
                f"API key {key.id} ({key.name!r}) is the last active admin key: create another admin "
                "key first (POST /api/v1/keys with \"role\": \"admin\", or `elsnet create-key --role admin`), "
                "then revoke this one"
            )
    key.revoked_at = utcnow()
    return key
