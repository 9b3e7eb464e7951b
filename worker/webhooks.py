"""Send due webhook deliveries (the workers' side of the outbox in ``store.webhooks``)."""

from __future__ import annotations

import httpx

from store.db import get_sessionmaker
from store.models import utcnow
from store.settings import get_settings
from store.webhooks import deliver_due


def deliver_once(client: httpx.Client | None = None) -> int:
    """One tick of the delivery loop; returns how many deliveries were attempted."""
    settings = get_settings()
    if client is None:
        with httpx.Client(timeout=settings.webhook_timeout_s) as own:
            return deliver_once(own)
    return deliver_due(get_sessionmaker(), utcnow(), client, max_attempts=settings.webhook_max_attempts,
                       timeout_s=settings.webhook_timeout_s)
