"""A campaign's life: schedule, start, pause, resume and cancel (`campaigns:manage`), and
the launch of a run that the start and the dispatcher share.

Every move is one conditional update of the campaign (its status is the condition), so two
requests racing move it once and the other gets 409 `campaign_state_conflict`; the
allowed moves are `transition`'s table. Audited `campaign.<action>`.

A launch makes the run of a window (the unique (campaign, window) key: a second attempt
finds the first's run) and then moves the campaign to `running` on that run; whoever
moved the campaign queues the audience snapshot (`SNAPSHOT_RUN_JOB`). Of two dispatchers
firing one window, both find one run and one moves the campaign: one snapshot, one run.
A launch whose campaign moved meanwhile (cancelled, started by hand) leaves its run
cancelled if it made it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from api.domain.clock import Clock
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.messaging.campaigns import (
    FINISHED_RUN,
    Campaign,
    CampaignAction,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRun,
    CampaignRunRepository,
    CampaignStateConflict,
    CampaignStatus,
    InvalidSchedule,
    RunStatus,
    ScheduleType,
    allowed_from,
    transition,
)
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.campaign_policy import CampaignPolicy
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB, SNAPSHOT_RUN_JOB
from api.usecases.messaging.campaign_schedules import next_run_at
from api.usecases.messaging.manage_campaigns import (
    CampaignChecks,
    ScheduleInput,
    existing_campaign,
)


class ScheduleRequest(BaseModel):
    """`POST /{id}/schedule`: optionally a new schedule (`at` or `recurring`); without
    one, the campaign's own."""

    model_config = ConfigDict(frozen=True)

    schedule: ScheduleInput | None = None


def stored_id(id: str | None) -> str:
    """The id of a stored campaign or run (read back from the repository)."""
    if id is None:
        raise ValueError("a stored campaign or run has an id")
    return id


class CampaignLauncher:
    """Start a run of a campaign for a window (see the module)."""

    def __init__(
        self,
        campaigns: CampaignRepository,
        runs: CampaignRunRepository,
        recipients: CampaignRecipientRepository,
        jobs: JobQueue,
        policy: CampaignPolicy,
    ) -> None:
        self._campaigns = campaigns
        self._runs = runs
        self._recipients = recipients
        self._jobs = jobs
        self._policy = policy

    async def launch(
        self, campaign: Campaign, window: datetime, now: datetime, *, scheduled: bool
    ) -> tuple[Campaign, CampaignRun] | None:
        """Run `campaign` for `window`: from `scheduled` for that window (the dispatcher),
        else from any status `start` allows. None when the campaign moved meanwhile."""
        campaign_id = stored_id(campaign.id)
        lease = now + timedelta(seconds=self._policy.snapshot_lease_seconds)
        run = await self._runs.create(
            CampaignRun(campaign_id=campaign_id, window=window, started_at=now, lease_until=lease)
        )
        made = run is not None
        if run is None:
            run = await self._runs.for_window(campaign_id, window)
            if run is None:  # deleted meanwhile: nothing to hand over
                return None
        run_id = stored_id(run.id)
        changes: dict[str, object] = {
            "status": CampaignStatus.RUNNING,
            "current_run_id": run_id,
            "next_run_at": next_run_at(campaign.schedule, max(window, now))
            if campaign.schedule is not None and campaign.schedule.type is ScheduleType.RECURRING
            else None,
        }
        if scheduled:
            moved = await self._campaigns.claim_window(campaign_id, window, changes)
        else:
            moved = await self._campaigns.update(
                campaign_id, changes, statuses=allowed_from(CampaignAction.START)
            )
        if moved is None:
            if made:
                await self._runs.update(
                    run_id,
                    {"status": RunStatus.CANCELLED, "finished_at": now,
                     "error": "the campaign moved before the run began"},
                    statuses=frozenset({RunStatus.SNAPSHOTTING}),
                )  # fmt: skip
            return None
        await self._jobs.enqueue(SNAPSHOT_RUN_JOB, run_id=run_id)
        return moved, run


class _CampaignAction:
    """Shared by the actions: the permission, the campaign, the audit entry."""

    action: CampaignAction

    def __init__(self, campaigns: CampaignRepository, auditor: Auditor) -> None:
        self._campaigns = campaigns
        self._auditor = auditor

    async def _current(self, principal: Principal, campaign_id: str) -> Campaign:
        require_permission(principal, Permission.CAMPAIGNS_MANAGE)
        campaign = await existing_campaign(self._campaigns, campaign_id)
        transition(campaign.status, self.action)  # 409 before any work
        return campaign

    async def _move(self, campaign: Campaign, changes: dict[str, object] | None = None) -> Campaign:
        target = transition(campaign.status, self.action)
        moved = await self._campaigns.update(
            stored_id(campaign.id), {"status": target, **(changes or {})},
            statuses=allowed_from(self.action),
        )  # fmt: skip
        if moved is None:
            return await self._conflict(stored_id(campaign.id))
        return moved

    async def _conflict(self, campaign_id: str) -> Campaign:
        now = await self._campaigns.get(campaign_id)
        if now is None:
            raise NotFound("Campaign not found.")
        transition(now.status, self.action)  # raises for the status it has now
        raise CampaignStateConflict("The campaign changed meanwhile; try again.")

    async def _audit(self, principal: Principal, before: Campaign, after: Campaign) -> None:
        await self._auditor.record(
            f"campaign.{self.action.value}", "campaign", after.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"status": {"from": before.status.value,
                                                       "to": after.status.value}}),
        )  # fmt: skip


class ScheduleCampaign(_CampaignAction):
    """`draft` -> `scheduled`, with a schedule that runs later (`at` or `recurring`; 422
    `invalid_schedule` without one); `next_run_at` is its first run."""

    action = CampaignAction.SCHEDULE

    def __init__(
        self, campaigns: CampaignRepository, checks: CampaignChecks, auditor: Auditor
    ) -> None:
        super().__init__(campaigns, auditor)
        self._checks = checks

    async def execute(
        self, principal: Principal, campaign_id: str, request: ScheduleRequest
    ) -> Campaign:
        before = await self._current(principal, campaign_id)
        given = request.schedule or before.schedule
        if given is None or given.type is ScheduleType.NOW:
            raise InvalidSchedule(
                "Scheduling needs an `at` or `recurring` schedule (start runs it now).",
                ("body", "schedule"),
                "an `at` or `recurring` schedule is required",
            )
        schedule = await self._checks.schedule(given)
        upcoming = next_run_at(schedule, self._checks.now())
        if upcoming is None:
            raise InvalidSchedule("The schedule never runs.", ("body", "schedule"), "never runs")
        after = await self._move(before, {"schedule": schedule, "next_run_at": upcoming})
        await self._audit(principal, before, after)
        return after


class StartCampaign(_CampaignAction):
    """`draft` or `scheduled` -> `running`: a run now (its window is this instant), whose
    audience is snapshotted by a job. A recurring campaign goes on with its schedule after
    this run."""

    action = CampaignAction.START

    def __init__(
        self,
        campaigns: CampaignRepository,
        launcher: CampaignLauncher,
        clock: Clock,
        auditor: Auditor,
    ) -> None:
        super().__init__(campaigns, auditor)
        self._launcher = launcher
        self._clock = clock

    async def execute(self, principal: Principal, campaign_id: str) -> Campaign:
        before = await self._current(principal, campaign_id)
        now = stored_time(self._clock.now())
        launched = await self._launcher.launch(before, now, now, scheduled=False)
        if launched is None:
            await self._conflict(campaign_id)
            raise CampaignStateConflict("The campaign changed meanwhile; try again.")
        after, _ = launched
        await self._audit(principal, before, after)
        return after


class _RunAction(_CampaignAction):
    def __init__(
        self,
        campaigns: CampaignRepository,
        runs: CampaignRunRepository,
        jobs: JobQueue,
        clock: Clock,
        auditor: Auditor,
    ) -> None:
        super().__init__(campaigns, auditor)
        self._runs = runs
        self._jobs = jobs
        self._clock = clock


class PauseCampaign(_RunAction):
    """`running` -> `paused`: the current run stops sending (rows already claimed finish);
    a run still snapshotting pauses when its snapshot ends."""

    action = CampaignAction.PAUSE

    async def execute(self, principal: Principal, campaign_id: str) -> Campaign:
        before = await self._current(principal, campaign_id)
        after = await self._move(before)
        if after.current_run_id:
            await self._runs.update(
                after.current_run_id, {"status": RunStatus.PAUSED},
                statuses=frozenset({RunStatus.SENDING}),
            )  # fmt: skip
        await self._audit(principal, before, after)
        return after


class ResumeCampaign(_RunAction):
    """`paused` -> `running`: the current run sends again (`SEND_RUN_JOB` queued)."""

    action = CampaignAction.RESUME

    async def execute(self, principal: Principal, campaign_id: str) -> Campaign:
        before = await self._current(principal, campaign_id)
        after = await self._move(before)
        if after.current_run_id:
            run = await self._runs.update(
                after.current_run_id, {"status": RunStatus.SENDING},
                statuses=frozenset({RunStatus.PAUSED}),
            )  # fmt: skip
            if run is not None:
                await self._jobs.enqueue(SEND_RUN_JOB, run_id=after.current_run_id)
        await self._audit(principal, before, after)
        return after


class CancelCampaign(_RunAction):
    """`draft`, `scheduled`, `running` or `paused` -> `cancelled`: no next run; the current
    run ends `cancelled` and its rows not yet sent are `skipped` (reason `cancelled`)."""

    action = CampaignAction.CANCEL

    def __init__(
        self,
        campaigns: CampaignRepository,
        runs: CampaignRunRepository,
        recipients: CampaignRecipientRepository,
        jobs: JobQueue,
        clock: Clock,
        auditor: Auditor,
    ) -> None:
        super().__init__(campaigns, runs, jobs, clock, auditor)
        self._recipients = recipients

    async def execute(self, principal: Principal, campaign_id: str) -> Campaign:
        before = await self._current(principal, campaign_id)
        after = await self._move(before, {"next_run_at": None})
        if after.current_run_id:
            await cancel_run(self._runs, self._recipients, after.current_run_id,
                             stored_time(self._clock.now()))  # fmt: skip
        await self._audit(principal, before, after)
        return after


async def cancel_run(
    runs: CampaignRunRepository,
    recipients: CampaignRecipientRepository,
    run_id: str,
    now: datetime,
) -> None:
    """End the run `cancelled` (unless it ended) and skip its rows not yet sent."""
    open_statuses = frozenset(RunStatus) - FINISHED_RUN
    await runs.update(
        run_id, {"status": RunStatus.CANCELLED, "finished_at": now}, statuses=open_statuses
    )
    await recipients.cancel_pending(run_id, now)
