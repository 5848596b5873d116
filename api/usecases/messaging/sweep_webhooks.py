"""Re-queue stored deliveries whose processing job was never queued, or was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from api.common.clock import utcnow
from api.domain.jobs import JobQueue
from api.domain.messaging.webhooks import WebhookEventStore
from api.domain.tenancy import tenant_context
from api.usecases.messaging.webhook_rules import PROCESS_WEBHOOK_JOB, WebhookPolicy

log = logging.getLogger(__name__)


class SweepWebhookEvents:
    """Periodic (beat): every delivery still not processed `WEBHOOK_SWEEP_AFTER_SECONDS`
    after it arrived (the queue was down when it came, a worker died with it, its items
    failed transiently past the job's retries) is queued again, oldest first. Queuing one
    twice is harmless: its items are claimed once. Returns how many were queued."""

    def __init__(self, events: WebhookEventStore, jobs: JobQueue, policy: WebhookPolicy) -> None:
        self._events = events
        self._jobs = jobs
        self._policy = policy

    async def execute(self) -> int:
        before = utcnow() - timedelta(seconds=self._policy.sweep_after_seconds)
        stale = await self._events.stale(received_before=before, limit=self._policy.sweep_batch)
        with tenant_context(None):
            for event_id in stale:
                await self._jobs.enqueue(PROCESS_WEBHOOK_JOB, webhook_event_id=event_id)
                await self._events.mark_queued(event_id)
        if stale:
            log.info("re-queued %d stored webhook deliveries", len(stale))
        return len(stale)
