"""The campaign sweep (periodic, every CAMPAIGN_SWEEP_INTERVAL_SECONDS): what a dead send
job left behind, in every tenant.

- A `sending` run with no live lease (its job died, or was lost before it started): its
  rows claimed by the dead job whose claim ran out are settled, then its send job is
  queued again (of several queued, the one that takes the lease sends; the others end).
- A `paused` or `cancelled` run whose job died holding it: its expired claims are
  settled and the lease is cleared.
- Settling an expired claim: a row a status webhook already moved (sent, delivered, read,
  failed) is left as it is; a row still `sending` becomes `failed` `outcome_unknown`. It
  is never sent again: its request may have reached WhatsApp, whose sends are not
  idempotent.
"""

from __future__ import annotations

import logging

from api.domain.clock import Clock
from api.domain.jobs import JobQueue
from api.domain.messaging.campaign_sending import CampaignRunSweep, StaleRun
from api.domain.messaging.campaigns import (
    CampaignRecipientRepository,
    CampaignRunRepository,
    RunStatus,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.campaign_batches import unknown
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB

log = logging.getLogger(__name__)
SWEEP_BATCH = 200


class SweepCampaignRuns:
    def __init__(
        self,
        sweep: CampaignRunSweep,
        runs: CampaignRunRepository,
        recipients: CampaignRecipientRepository,
        jobs: JobQueue,
        clock: Clock,
    ) -> None:
        self._sweep = sweep
        self._runs = runs
        self._recipients = recipients
        self._jobs = jobs
        self._clock = clock

    async def execute(self) -> int:
        """How many runs were looked after."""
        stale = await self._sweep.stale(self._clock.now(), SWEEP_BATCH)
        for run in stale:
            with tenant_context(TenantId(run.tenant_id)):
                await self._look_after(run)
        return len(stale)

    async def _look_after(self, stale: StaleRun) -> None:
        now = self._clock.now()
        expired = await self._recipients.expired_claims(stale.run_id, now)
        if expired:
            settled = await self._recipients.record_results([unknown(row, now) for row in expired])
            log.warning("run %s: %d rows whose worker died settled as outcome_unknown",
                        stale.run_id, settled)  # fmt: skip
        if stale.status is RunStatus.SENDING:
            await self._jobs.enqueue(SEND_RUN_JOB, run_id=stale.run_id)
        else:
            await self._runs.update(stale.run_id, {"lease_holder": None, "lease_until": None},
                                    statuses=frozenset({stale.status}))  # fmt: skip
