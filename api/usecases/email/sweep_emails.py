"""Re-queue queued email whose delivery job or run was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from api.domain.clock import Clock
from api.domain.email.messages import EmailPolicy, StaleEmails
from api.domain.jobs import JobQueue
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.kernel.mailer import SEND_EMAIL_JOB

log = logging.getLogger(__name__)

SWEEP_EMAILS_JOB = "parley.email.sweep"


class SweepOutboundEmails:
    """Periodic (beat): every email still `queued` `MAIL_SWEEP_AFTER_SECONDS` after it was
    created, whose send lease no run holds, gets its delivery job again, in its tenant,
    oldest first. Its job was lost (the broker lost it, or a worker that died had
    reserved it: Redis hands an unacknowledged job back only after the visibility
    timeout), or the run that held it died. Queuing one twice is harmless: a run takes
    the lease before it sends, and one that finds the email settled or held sends
    nothing. Returns how many were queued."""

    def __init__(
        self, stale: StaleEmails, jobs: JobQueue, clock: Clock, policy: EmailPolicy
    ) -> None:
        self._stale = stale
        self._jobs = jobs
        self._clock = clock
        self._policy = policy

    async def execute(self) -> int:
        now = self._clock.now()
        before = now - timedelta(seconds=self._policy.sweep_after_seconds)
        found = await self._stale.queued_before(before, now=now, limit=self._policy.sweep_batch)
        for tenant_id, email_id in found:
            with tenant_context(TenantId(tenant_id)):
                await self._jobs.enqueue(SEND_EMAIL_JOB, email_id=email_id)
        if found:
            log.info("re-queued %d emails whose delivery job or run was lost", len(found))
        return len(found)
