"""API keys over HTTP: for admin keys, create (the value is shown once; a role and an optional
project scope), list, revoke; for any key, what it is itself (``/me``: its role and scope)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import AdminKey, CurrentKey, SessionDep
from api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ApiKeysPublic
from store import auth

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated)
def create_key(body: ApiKeyCreate, session: SessionDep, _admin: AdminKey, response: Response) -> ApiKeyCreated:
    # no Idempotency-Key here: a replayed response would have to store the plain key
    key, plain = auth.issue_key(session, body.name, role=body.granted_role, project_ids=body.project_ids)
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=plain)


@router.get("", response_model=ApiKeysPublic)
def list_keys(session: SessionDep, _admin: AdminKey) -> ApiKeysPublic:
    keys = auth.list_keys(session)
    return ApiKeysPublic(data=[ApiKeyPublic.model_validate(k) for k in keys], count=len(keys))


@router.get("/me", response_model=ApiKeyPublic)
def read_own_key(key: CurrentKey) -> ApiKeyPublic:
    """The calling key: its name, prefix, role and project scope (the page shows what it may do)."""
    return ApiKeyPublic.model_validate(key)


@router.delete("/{key_id}", status_code=204)
def revoke_key(key_id: str, session: SessionDep, _admin: AdminKey) -> Response:
    auth.revoke_key(session, key_id)
    session.commit()
    return Response(status_code=204)
