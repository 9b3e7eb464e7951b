"""``Idempotency-Key`` for POSTs that create things: same key + same body -> same response."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import BadInput
from store.models import ApiKey, IdempotencyRecord


def fingerprint(method: str, path: str, body: Any) -> str:
    raw = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def run(
    session: Session,
    key: ApiKey,
    idem_key: str | None,
    request_hash: str,
    produce: Callable[[], tuple[int, Any]],
    after_commit: Callable[[], object] | None = None,
) -> JSONResponse:
    """Run ``produce`` once per (API key, Idempotency-Key); replay the stored response after."""
    if idem_key:
        rec = session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.api_key_id == key.id, IdempotencyRecord.key == idem_key)
        )
        if rec is not None:
            if rec.request_hash != request_hash:
                raise BadInput(
                    f"Idempotency-Key {idem_key!r} was already used with a different request body; "
                    "use a new key for a new request"
                )
            return JSONResponse(status_code=rec.status_code, content=rec.response, headers={"Idempotent-Replayed": "true"})
    status, body = produce()
    content = jsonable_encoder(body)
    if idem_key:
        session.add(
            IdempotencyRecord(api_key_id=key.id, key=idem_key, request_hash=request_hash, status_code=status, response=content)
        )
    try:
        session.commit()
    except IntegrityError:  # the same key raced us; replay the winner
        session.rollback()
        return run(session, key, idem_key, request_hash, lambda: (_ for _ in ()).throw(RuntimeError("unreachable")))
    if after_commit is not None:
        after_commit()
    return JSONResponse(status_code=status, content=content)
