"""Campaign runs: the dispatcher that fires the due ones, the audience snapshot of a run,
and what the API reads of runs (their stats) and recipient rows (`campaigns:read`).

The dispatcher (`DISPATCH_DUE_JOB`, beat every `CAMPAIGN_DISPATCH_INTERVAL_SECONDS`):
every campaign `scheduled` with `next_run_at` at or before now, in every tenant, is
launched for that window within its tenant (`CampaignLauncher`: one run per window, even
with two dispatchers at once). A recurring campaign's `next_run_at` moves to its next
firing after now (a window missed while nothing ran is not made up twice).

A run still `snapshotting` past its lease (`CampaignPolicy.snapshot_lease_seconds`, renewed
by the snapshot after every batch) lost its job: the dispatcher queues it again.

The snapshot (`SNAPSHOT_RUN_JOB`): the audience's contacts (deleted ones never) become the
run's rows, `SNAPSHOT_BATCH` at a time, idempotently (a redelivered job adds nothing
twice): an opted-out contact is a `skipped` row (`opted_out`, counted in the run's
`opted_out_skipped`), one without a number or user id `skipped` (`no_address`; a plain
message's campaign, on Telegram, sends to the contact's user id on the channel's account
only: a contact without one is `skipped` `not_on_channel`), one missing
a variable's value (and its fallback) `failed` (`missing_variable`); the others `pending`
with their variables rendered. Then the run counts its rows and goes `sending`, and the
send engine is queued (`SEND_RUN_JOB`), unless the campaign was paused (the run waits,
`paused`, for a resume) or cancelled (the run ends and its rows are skipped) meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.messaging.campaigns import (
    Audience,
    AudienceContacts,
    Campaign,
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRun,
    CampaignRunPage,
    CampaignRunRepository,
    CampaignSchedule,
    CampaignStats,
    CampaignStatus,
    CampaignVariable,
    RecipientAddress,
    RecipientPage,
    RecipientStatus,
    RunStatus,
    SkipReason,
    VariableSource,
    campaign_stats,
)
from api.domain.messaging.channels import ChannelRepository
from api.domain.messaging.contacts import Contact, ContactIdentityRepository, SegmentFilter
from api.domain.messaging.segments import SegmentRepository
from api.domain.permissions import Permission
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.campaign_actions import CampaignLauncher, cancel_run
from api.usecases.messaging.campaign_policy import CampaignPolicy
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB, SNAPSHOT_RUN_JOB
from api.usecases.messaging.inbox_reads import bounded
from api.usecases.messaging.manage_campaigns import existing_campaign

log = logging.getLogger(__name__)

DISPATCH_BATCH = 200
DISPATCH_MAX_BATCHES = 10
SNAPSHOT_BATCH = 1000
MISSING_VARIABLE = "missing_variable"
RUN_NOT_FOUND = "Run not found."


class DispatchDueCampaigns:
    """Periodic (beat): launch every due scheduled campaign (see the module), and queue
    again the snapshot of every run whose snapshot lease ran out (its job was lost); how
    many runs were launched."""

    def __init__(
        self,
        schedule: CampaignSchedule,
        campaigns: CampaignRepository,
        runs: CampaignRunRepository,
        launcher: CampaignLauncher,
        jobs: JobQueue,
        policy: CampaignPolicy,
        clock: Clock,
    ) -> None:
        self._schedule = schedule
        self._campaigns = campaigns
        self._runs = runs
        self._launcher = launcher
        self._jobs = jobs
        self._policy = policy
        self._clock = clock

    async def execute(self) -> int:
        now = stored_time(self._clock.now())
        launched = 0
        for _ in range(DISPATCH_MAX_BATCHES):
            due = await self._schedule.due(now, DISPATCH_BATCH)
            for item in due:
                with tenant_context(TenantId(item.tenant_id)):
                    campaign = await self._campaigns.get(item.campaign_id)
                    if campaign is None or campaign.status is not CampaignStatus.SCHEDULED:
                        continue
                    window = item.next_run_at
                    if await self._launcher.launch(campaign, window, now, scheduled=True):
                        launched += 1
            if len(due) < DISPATCH_BATCH:
                break
        if launched:
            log.info("launched %d campaign runs", launched)
        await self._revive_snapshots(now)
        return launched

    async def _revive_snapshots(self, now: datetime) -> None:
        lease = now + timedelta(seconds=self._policy.snapshot_lease_seconds)
        snapshotting = frozenset({RunStatus.SNAPSHOTTING})
        for stalled in await self._schedule.stalled_snapshots(now, DISPATCH_BATCH):
            with tenant_context(TenantId(stalled.tenant_id)):
                run = await self._runs.update(
                    stalled.run_id, {"lease_until": lease}, statuses=snapshotting
                )
                if run is not None:
                    log.warning("queueing the stalled snapshot of run %s again", run.id)
                    await self._jobs.enqueue(SNAPSHOT_RUN_JOB, run_id=stalled.run_id)


def audience_filters(audience: Audience, segments: list[SegmentFilter]) -> list[SegmentFilter]:
    """The filters that select the audience's contacts *with* the opted-out ones (a
    segment leaves them out by default; a run counts them as skipped)."""
    widened = [
        f.model_copy(update={"opted_out": None}) if f.opted_out is False else f for f in segments
    ]
    if audience.tags_any:
        widened.append(SegmentFilter(tags_any=audience.tags_any, opted_out=None))
    return widened


def _value(contact: Contact, variable: CampaignVariable) -> str | None:
    if variable.source is VariableSource.CONSTANT:
        return variable.value
    if variable.source is VariableSource.FIELD:
        raw: object = getattr(contact, variable.value, None)
    else:
        raw = contact.attributes.get(variable.value)
    text = "" if raw is None else str(raw).strip()
    return text or variable.fallback


def recipient_row(
    campaign: Campaign,
    run_id: str,
    contact: Contact,
    now: datetime,
    user_ids: dict[str, str] | None = None,
) -> CampaignRecipient:
    """A contact's row in a run (see the module for the skipped and failed ones). With
    `user_ids` (the contacts' user ids on the channel's account, for a channel without
    phone numbers), the row's address is the contact's user id there."""
    if campaign.id is None or contact.id is None:
        raise ValueError("stored campaigns and contacts only")
    if user_ids is None:
        address = RecipientAddress(phone=contact.phone, wa_id=contact.wa_id, bsuid=contact.bsuid)
        unreachable = SkipReason.NO_ADDRESS
    else:
        address = RecipientAddress(user_id=user_ids.get(contact.id))
        unreachable = SkipReason.NOT_ON_CHANNEL
    row = CampaignRecipient(
        campaign_id=campaign.id,
        run_id=run_id,
        contact_id=contact.id,
        address=address,
        name=contact.name,
        updated_at=now,
    )
    if contact.opted_out:
        return row.model_copy(
            update={"status": RecipientStatus.SKIPPED, "skip_reason": SkipReason.OPTED_OUT}
        )
    if row.address.empty:
        return row.model_copy(
            update={"status": RecipientStatus.SKIPPED, "skip_reason": unreachable}
        )
    variables: dict[str, str] = {}
    for index, variable in enumerate(campaign.variables):
        key = variable.key or str(index + 1)
        value = _value(contact, variable)
        if value is None:
            return row.model_copy(
                update={"status": RecipientStatus.FAILED, "error_code": MISSING_VARIABLE,
                        "error_title": f"No value for the variable {key}."}
            )  # fmt: skip
        variables[key] = value
    return row.model_copy(update={"variables": variables})


class SnapshotCampaignRun:
    """The job: snapshot a run's audience (see the module); how many rows it holds."""

    def __init__(
        self,
        campaigns: CampaignRepository,
        runs: CampaignRunRepository,
        recipients: CampaignRecipientRepository,
        segments: SegmentRepository,
        audience: AudienceContacts,
        jobs: JobQueue,
        policy: CampaignPolicy,
        clock: Clock,
        channels: ChannelRepository,
        identities: ContactIdentityRepository,
    ) -> None:
        self._channels = channels
        self._identities = identities
        self._campaigns = campaigns
        self._runs = runs
        self._recipients = recipients
        self._segments = segments
        self._audience = audience
        self._jobs = jobs
        self._policy = policy
        self._clock = clock

    async def execute(self, run_id: str) -> int:
        run = await self._runs.get(run_id)
        if run is None or run.status is not RunStatus.SNAPSHOTTING:
            return run.recipients if run else 0  # done already (a redelivery) or gone
        campaign = await self._campaigns.get(run.campaign_id)
        now = stored_time(self._clock.now())
        if campaign is None:
            await self._runs.update(
                run_id, {"status": RunStatus.FAILED, "finished_at": now,
                         "error": "the campaign was deleted"},
                statuses=frozenset({RunStatus.SNAPSHOTTING}),
            )  # fmt: skip
            return 0
        segments = []
        for segment_id in campaign.audience.segment_ids:
            segment = await self._segments.get(segment_id)
            if segment is not None:  # a segment deleted since is no one
                segments.append(segment.filter)
        batches = self._audience.batches(
            filters=audience_filters(campaign.audience, segments),
            contact_ids=campaign.audience.contact_ids,
            everyone=campaign.audience.all,
            size=SNAPSHOT_BATCH,
        )
        # A plain message (Telegram) goes to the contacts' user ids on the channel's
        # account; a template (WhatsApp) to their numbers.
        channel = await self._channels.get(campaign.channel_id)
        seq = 0  # the rows' order, which the send engine claims by ranges of
        async for contacts in batches:
            user_ids = None
            if campaign.message is not None:  # one read of the batch's user ids
                user_ids = await self._identities.user_ids_on(
                    [c.id or "" for c in contacts], channel.type, channel.account_id
                ) if channel is not None else {}  # fmt: skip
            rows = [
                recipient_row(campaign, run_id, c, now, user_ids).model_copy(
                    update={"seq": seq + i}
                )
                for i, c in enumerate(contacts)
            ]
            seq += len(rows)
            await self._recipients.add_snapshot(rows)
            await self._renew(run_id)
        counts = await self._recipients.counts(run_id=run_id)
        total = sum(counts.by_status.values())
        opted_out = counts.skipped_by_reason.get(SkipReason.OPTED_OUT.value, 0)
        await self._runs.update(run_id, {"recipients": total, "opted_out_skipped": opted_out})
        await self._hand_over(run_id, now)
        return total

    async def _renew(self, run_id: str) -> None:
        """The snapshot is alive: its lease moves on (else the dispatcher re-queues it)."""
        lease = self._clock.now() + timedelta(seconds=self._policy.snapshot_lease_seconds)
        await self._runs.update(
            run_id, {"lease_until": lease}, statuses=frozenset({RunStatus.SNAPSHOTTING})
        )

    async def _hand_over(self, run_id: str, now: datetime) -> None:
        """`snapshotting` -> `sending`, then what the campaign says now: paused (the run
        waits), cancelled (the run ends), else the send engine is queued."""
        started = await self._runs.update(
            run_id, {"status": RunStatus.SENDING}, statuses=frozenset({RunStatus.SNAPSHOTTING})
        )
        run = started or await self._runs.get(run_id)
        if run is None:
            return
        campaign = await self._campaigns.get(run.campaign_id)
        current = campaign is not None and campaign.current_run_id == run_id
        if campaign is None or campaign.status is CampaignStatus.CANCELLED or not current:
            await cancel_run(self._runs, self._recipients, run_id, now)
            return
        if campaign.status is CampaignStatus.PAUSED:
            await self._runs.update(
                run_id, {"status": RunStatus.PAUSED}, statuses=frozenset({RunStatus.SENDING})
            )
            # Resumed between our read and our write: the resume found the run sending and
            # left it to us, so it goes on here.
            again = await self._campaigns.get(run.campaign_id)
            if again is None or again.status is not CampaignStatus.RUNNING:
                return
            started = await self._runs.update(
                run_id, {"status": RunStatus.SENDING}, statuses=frozenset({RunStatus.PAUSED})
            )
        if started is not None:
            await self._jobs.enqueue(SEND_RUN_JOB, run_id=run_id)


async def run_of(runs: CampaignRunRepository, campaign_id: str, run_id: str) -> CampaignRun:
    """The campaign's run with this id; `NotFound` for another campaign's (or tenant's)."""
    run = await runs.get(run_id)
    if run is None or run.campaign_id != campaign_id:
        raise NotFound(RUN_NOT_FOUND)
    return run


class RunView(BaseModel):
    """A run with its stats (counted from its rows now)."""

    run: CampaignRun
    stats: CampaignStats


class ListCampaignRuns:
    def __init__(self, campaigns: CampaignRepository, runs: CampaignRunRepository) -> None:
        self._campaigns = campaigns
        self._runs = runs

    async def execute(
        self, principal: Principal, campaign_id: str, *, cursor: str | None, limit: int
    ) -> CampaignRunPage:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        await existing_campaign(self._campaigns, campaign_id)
        return await self._runs.page(campaign_id, cursor=cursor, limit=bounded(limit))


class GetCampaignRun:
    def __init__(
        self,
        campaigns: CampaignRepository,
        runs: CampaignRunRepository,
        recipients: CampaignRecipientRepository,
    ) -> None:
        self._campaigns = campaigns
        self._runs = runs
        self._recipients = recipients

    async def execute(self, principal: Principal, campaign_id: str, run_id: str) -> RunView:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        await existing_campaign(self._campaigns, campaign_id)
        run = await run_of(self._runs, campaign_id, run_id)
        counts = await self._recipients.counts(run_id=run_id)
        return RunView(run=run, stats=campaign_stats(counts))


class GetCampaignStats:
    """The campaign's stats over all its runs."""

    def __init__(
        self, campaigns: CampaignRepository, recipients: CampaignRecipientRepository
    ) -> None:
        self._campaigns = campaigns
        self._recipients = recipients

    async def execute(self, principal: Principal, campaign_id: str) -> CampaignStats:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        await existing_campaign(self._campaigns, campaign_id)
        return campaign_stats(await self._recipients.counts(campaign_id=campaign_id))


class ListCampaignRecipients:
    def __init__(
        self,
        campaigns: CampaignRepository,
        runs: CampaignRunRepository,
        recipients: CampaignRecipientRepository,
    ) -> None:
        self._campaigns = campaigns
        self._runs = runs
        self._recipients = recipients

    async def execute(
        self,
        principal: Principal,
        campaign_id: str,
        *,
        run_id: str | None,
        status: RecipientStatus | None,
        cursor: str | None,
        limit: int,
    ) -> RecipientPage:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        await existing_campaign(self._campaigns, campaign_id)
        if run_id is not None:
            await run_of(self._runs, campaign_id, run_id)
        return await self._recipients.page(
            campaign_id, run_id=run_id, status=status, cursor=cursor, limit=bounded(limit)
        )
