"""Webhooks: a project's HTTP endpoints told when its jobs end (docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.deps import ProjectDep, SessionDep
from api.schemas import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveriesPublic,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhooksPublic,
)
from store import webhooks

router = APIRouter(tags=["webhooks"])
BASE = "/api/v1/projects/{project_id}/webhooks"


@router.post(BASE, status_code=201, response_model=WebhookCreated)
def create_webhook(project: ProjectDep, body: WebhookCreate, session: SessionDep) -> WebhookCreated:
    """Register an endpoint; the response holds its signing secret, shown this once only."""
    hook = webhooks.create_webhook(session, project, body.url, body.events)
    session.commit()
    return WebhookCreated.model_validate(hook)


@router.get(BASE, response_model=WebhooksPublic)
def list_webhooks(project: ProjectDep, session: SessionDep) -> WebhooksPublic:
    hooks = webhooks.list_webhooks(session, project)
    return WebhooksPublic(data=[WebhookPublic.model_validate(h) for h in hooks], count=len(hooks))


@router.delete(BASE + "/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(project: ProjectDep, webhook_id: str, session: SessionDep) -> Response:
    webhooks.delete_webhook(session, project, webhook_id)
    session.commit()
    return Response(status_code=204)


@router.get(BASE + "/{webhook_id}/deliveries", response_model=WebhookDeliveriesPublic)
def list_deliveries(
    project: ProjectDep,
    webhook_id: str,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    state: Literal["pending", "delivered", "failed"] | None = None,
) -> WebhookDeliveriesPublic:
    """The newest deliveries first, with attempts and the last HTTP status or error."""
    hook = webhooks.get_webhook(session, project, webhook_id)
    rows = webhooks.list_deliveries(session, hook, limit=limit, state=state)
    return WebhookDeliveriesPublic(data=[WebhookDeliveryPublic.model_validate(d) for d in rows], count=len(rows))
