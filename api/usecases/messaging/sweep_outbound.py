"""Re-queue outbound messages whose send job was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from api.domain.clock import Clock
from api.domain.jobs import JobQueue
from api.domain.messaging.messages import MessageError, MessageRepository
from api.domain.messaging.outbound import StaleOutbound
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.sending_rules import SEND_MESSAGE_JOB, SendPolicy

log = logging.getLogger(__name__)

_GAVE_UP = MessageError(
    title="Not sent",
    details="Parley queued this message again several times and no attempt completed.",
)


class SweepOutboundMessages:
    """Periodic (beat): every outbound message still `queued` `SEND_SWEEP_AFTER_SECONDS`
    after it was created, and held by no send run, gets its send job again, in its tenant,
    oldest first. Its job was lost: the broker lost its data (Redis killed without
    persistence), or the queue was down between storing and queuing.

    Queuing one twice is harmless: a run claims the message before calling the provider,
    and one that finds it settled sends nothing. A message re-queued
    `sweep_max_requeues` times and still queued is failed instead (its runs keep dying:
    sweeping it forever would hide that). Returns how many were queued."""

    def __init__(
        self,
        stale: StaleOutbound,
        messages: MessageRepository,
        jobs: JobQueue,
        clock: Clock,
        policy: SendPolicy,
    ) -> None:
        self._stale = stale
        self._messages = messages
        self._jobs = jobs
        self._clock = clock
        self._policy = policy

    async def execute(self) -> int:
        now = self._clock.now()
        before = now - timedelta(seconds=self._policy.sweep_after_seconds)
        found = await self._stale.queued_before(before, now=now, limit=self._policy.sweep_batch)
        queued = 0
        for tenant_id, message_id in found:
            with tenant_context(TenantId(tenant_id)):
                if await self._stale.count_requeue(tenant_id, message_id) > (
                    self._policy.sweep_max_requeues
                ):
                    await self._messages.fail(message_id, _GAVE_UP, now)
                    continue
                await self._jobs.enqueue(SEND_MESSAGE_JOB, message_id=message_id)
                queued += 1
        if found:
            log.info(
                "re-queued %d outbound messages whose send job was lost (%d given up)",
                queued, len(found) - queued,
            )  # fmt: skip
        return queued
