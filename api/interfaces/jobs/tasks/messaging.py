"""Messaging tasks: process one stored webhook delivery; sweep the ones left behind."""

from __future__ import annotations

from typing import Any

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.messaging.process_webhook import ProcessWebhookEvent
from api.usecases.messaging.sweep_webhooks import SweepWebhookEvents
from api.usecases.messaging.webhook_rules import PROCESS_WEBHOOK_JOB, SWEEP_WEBHOOKS_JOB


@parley_task(PROCESS_WEBHOOK_JOB)
async def process_webhook(container: punq.Container, webhook_event_id: str) -> dict[str, Any]:
    """Parse a stored delivery and settle each of its items once (see `ProcessWebhookEvent`)."""
    summary = await container.resolve(ProcessWebhookEvent).execute(webhook_event_id)
    return {"items": summary.items, "outcomes": summary.outcomes}


@parley_task(SWEEP_WEBHOOKS_JOB)
async def sweep_webhooks(container: punq.Container) -> int:
    """Periodic (beat): queue the deliveries whose processing was never queued or was lost."""
    return await container.resolve(SweepWebhookEvents).execute()
