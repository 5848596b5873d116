"""A run with nothing left to send is completed, once.

Rules:
- The run moves `sending` -> `completed` (conditional: of two finishers, one does the rest).
- Its campaign moves `running` -> `scheduled` with the next window when its schedule is
  recurring (after the later of now and this run's window: missed windows are not
  caught up), else `running` -> `completed`.
- The campaign's owner (an active user of the tenant) gets the results email: recipients
  at least sent, delivered (or read), read, failed, with a link to the run. No owner, or a
  mail queue that is down, sends nothing and is no error (the run stays completed).
"""

from __future__ import annotations

import logging

from api.domain.clock import Clock
from api.domain.email.messages import ContextValue, EmailTemplate
from api.domain.errors import InvalidInput, ServiceUnavailable
from api.domain.identity.users import UserRepository
from api.domain.messaging.campaigns import (
    Campaign,
    CampaignAction,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRun,
    CampaignRunRepository,
    CampaignStatus,
    RunStatus,
    ScheduleType,
    allowed_from,
    campaign_stats,
)
from api.usecases.kernel.mailer import QueueEmail
from api.usecases.messaging.campaign_schedules import next_run_at
from api.usecases.messaging.campaign_sending_rules import CampaignSendPolicy

log = logging.getLogger(__name__)


class FinishCampaignRun:
    def __init__(
        self,
        runs: CampaignRunRepository,
        campaigns: CampaignRepository,
        recipients: CampaignRecipientRepository,
        users: UserRepository,
        mail: QueueEmail,
        clock: Clock,
        policy: CampaignSendPolicy,
    ) -> None:
        self._runs = runs
        self._campaigns = campaigns
        self._recipients = recipients
        self._users = users
        self._mail = mail
        self._clock = clock
        self._policy = policy

    async def execute(self, run_id: str) -> bool:
        """True when this call completed the run (False: it was not `sending`)."""
        now = self._clock.now()
        run = await self._runs.update(
            run_id,
            {"status": RunStatus.COMPLETED, "finished_at": now,
             "lease_holder": None, "lease_until": None},
            statuses=frozenset({RunStatus.SENDING}),
        )  # fmt: skip
        if run is None:
            return False
        campaign = await self._campaigns.get(run.campaign_id)
        if campaign is None:
            return True
        await self._move_campaign(campaign, run)
        await self._email_owner(campaign, run)
        return True

    async def _move_campaign(self, campaign: Campaign, run: CampaignRun) -> None:
        now = self._clock.now()
        schedule = campaign.schedule
        following = (
            next_run_at(schedule, max(now, run.window))
            if schedule is not None and schedule.type is ScheduleType.RECURRING
            else None
        )
        if following is not None:
            changes: dict[str, object] = {"status": CampaignStatus.SCHEDULED,
                                          "next_run_at": following}  # fmt: skip
            action = CampaignAction.RESCHEDULE
        else:
            changes, action = {"status": CampaignStatus.COMPLETED}, CampaignAction.COMPLETE
        moved = await self._campaigns.update(
            campaign.id or "", changes, statuses=allowed_from(action)
        )
        if moved is None:
            log.info("campaign %s was no longer running when its run ended", campaign.id)

    async def _email_owner(self, campaign: Campaign, run: CampaignRun) -> None:
        owner = await self._users.get(campaign.owner_id) if campaign.owner_id else None
        if owner is None or not owner.is_active:
            return
        try:
            stats = campaign_stats(await self._recipients.counts(run_id=run.id))
        except ServiceUnavailable:
            log.warning("run %s: no results email, its counts could not be read", run.id)
            return
        context: dict[str, ContextValue] = {
            "campaign_name": campaign.name,
            "sent": stats.sent + stats.delivered + stats.read,
            "delivered": stats.delivered + stats.read,
            "read": stats.read,
            "failed": stats.failed,
            "report_url": f"{self._policy.report_base_url}/campaigns/{campaign.id}/runs/{run.id}",
        }
        try:
            await self._mail.execute(owner.email, EmailTemplate.CAMPAIGN_RESULTS, context)
        except (ServiceUnavailable, InvalidInput) as exc:
            log.warning("run %s: the results email was not queued (%s)", run.id, type(exc).__name__)
