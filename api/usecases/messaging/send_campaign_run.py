"""The campaign send engine: one slice of a run's sending (the `send_run` job).

Rules:
- One job sends a run at a time: it takes the run's lease (`sending` runs only; a lease
  that ran out, was released, or is handed over by the previous slice) and renews it
  every `heartbeat_seconds`; a job that cannot take it ends at once. Pause, cancel or a
  lost lease stop the slice at its next heartbeat (rows in flight are still recorded).
- At most once per recipient: a row is claimed right before its request, and its outcome
  recorded after it; a row claimed is never claimed again (a row whose worker died is
  settled by the sweep, never resent). Slots come first: rows are claimed only for free
  request slots (`max_in_flight`) and rate tokens already taken, so a worker killed with
  its requests in flight holds no claimed row that it had not sent. A slot is held from
  the claim until the row's outcome is recorded: a database slower than the sends slows
  the claims, so outcomes never wait so long that their claims run out.
- Rate: tokens are taken in bulk from the number's bucket (shared with the inbox, at the
  number's tier) and the campaign's own (min(campaign, tier)), before claiming.
- The database works in batches: one claim, one read of the batch's contacts (opted out
  or deleted since the snapshot: skipped), one bulk write of the batch's results.
- Past the snapshot's last window, the rows left (backing off, or given back) are claimed
  by one claim at a time (each reads the run's pending rows): not one per grant of tokens,
  which at a low rate (a few tokens a grant) queued dozens of such reads on the database
  and held the run `sending` for a minute after its last message.
- A slice claims for `slice_seconds`, waits for its requests, then hands the run (and its
  lease) to a fresh job. A run with nothing left to send is finished (`FinishCampaignRun`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timedelta

from api.domain.clock import Clock
from api.domain.errors import NotFound, PayloadTooLarge, ServiceUnavailable
from api.domain.jobs import JobQueue
from api.domain.messaging.campaigns import (
    Campaign,
    CampaignAction,
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRun,
    CampaignRunRepository,
    CampaignStatus,
    RunStatus,
    allowed_from,
    transition,
)
from api.domain.messaging.channels import (
    MAX_UPLOAD_BYTES,
    Channel,
    ChannelRepository,
    ChannelStatus,
    uploads_media,
)
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.outbound import OutboundFiles, SendRateLimiter
from api.domain.messaging.templates import APPROVED, TemplateRepository
from api.usecases.messaging.campaign_batches import (
    RunSlice,
    SendCampaignBatch,
    SliceOutcome,
    unknown,
)
from api.usecases.messaging.campaign_media import ReusedMedia
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB
from api.usecases.messaging.campaign_sending_rules import CampaignSendPolicy, rate_limits
from api.usecases.messaging.finish_campaign_run import FinishCampaignRun

log = logging.getLogger(__name__)
WINDOWS_PER_CLAIM = 4


class SendCampaignRun:
    def __init__(
        self,
        runs: CampaignRunRepository,
        campaigns: CampaignRepository,
        recipients: CampaignRecipientRepository,
        channels: ChannelRepository,
        templates: TemplateRepository,
        batches: SendCampaignBatch,
        gateways: ChannelGateways,
        limiter: SendRateLimiter,
        jobs: JobQueue,
        finish: FinishCampaignRun,
        clock: Clock,
        policy: CampaignSendPolicy,
        files: OutboundFiles,
    ) -> None:
        self._files = files
        self._runs = runs
        self._campaigns = campaigns
        self._recipients = recipients
        self._channels = channels
        self._templates = templates
        self._batches = batches
        self._gateways = gateways
        self._limiter = limiter
        self._jobs = jobs
        self._finish = finish
        self._clock = clock
        self._policy = policy

    async def execute(self, run_id: str, *, lease: str | None = None) -> SliceOutcome:
        holder = uuid.uuid4().hex
        now = self._clock.now()
        until = now + timedelta(seconds=self._policy.claim_seconds)
        run = await self._runs.take_lease(run_id, holder, until, now, previous=lease)
        if run is None:
            return SliceOutcome.BUSY
        try:
            work = await self._prepare(run, holder)
            if work is None:
                return SliceOutcome.STOPPED
            outcome = await self._send(work)
        except BaseException:
            await self._runs.release_lease(run_id, holder)
            raise
        return await self._after(work, outcome)

    # -- before and after the slice ------------------------------------------------------

    async def _prepare(self, run: CampaignRun, holder: str) -> RunSlice | None:
        """The campaign, channel and template (or plain message and its file) of the run;
        None (the run stopped) when the campaign is not running or cannot send."""
        campaign = await self._campaigns.get(run.campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.RUNNING:
            await self._runs.release_lease(run.id or "", holder)
            await self._follow_campaign(run.id or "", campaign)
            return None
        channel = await self._channels.get(campaign.channel_id)
        if channel is None or channel.status is ChannelStatus.DISCONNECTED:
            await self._fail(run, campaign, "The campaign's channel is gone.")
            return None
        if channel.status is not ChannelStatus.ACTIVE:
            await self._pause(run, campaign, f"The channel is {channel.status.value}.")
            return None
        template = None
        if campaign.template is not None:
            template = await self._templates.find(
                channel.id or "", campaign.template.name, campaign.template.language
            )
            if template is None or template.status != APPROVED:
                await self._fail(run, campaign, "The campaign's template is not approved.")
                return None
        media: tuple[bytes | None, str | None] = (None, None)
        if campaign.message is not None and campaign.message.file_id is not None:
            try:
                media = await self._media(channel, campaign.message.file_id)
            except (NotFound, PayloadTooLarge) as refused:
                await self._fail(run, campaign, f"The campaign's file cannot be sent: {refused}")
                return None
        limits = rate_limits(
            campaign.id or "", campaign.messages_per_second, channel.type.value,
            channel.account_id, channel.messages_per_second, self._policy.burst_seconds,
        )  # fmt: skip
        gateway = self._gateways.for_channel(channel)
        return RunSlice(
            run, campaign, channel, template, gateway, limits, holder, cursor=run.next_seq,
            media=media[0], media_link=media[1], reused=ReusedMedia(media_id=run.media_id),
        )  # fmt: skip

    async def _media(self, channel: Channel, file_id: str) -> tuple[bytes | None, str | None]:
        """The plain message's file, once a slice: its bytes for providers that take
        uploads (Telegram), else a signed link the provider fetches."""
        if uploads_media(channel.type):
            return await self._files.read(file_id, max_bytes=MAX_UPLOAD_BYTES), None
        return None, await self._files.public_link(file_id)

    async def _after(self, work: RunSlice, outcome: SliceOutcome) -> SliceOutcome:
        run, campaign = work.run, work.campaign
        if work.token_refused:
            await self._pause(run, campaign, "The channel's token was refused.")
            return SliceOutcome.STOPPED
        await self._keep_media_id(work)
        if outcome is SliceOutcome.FINISHED:
            await self._finish.execute(work.run_id)
            return outcome
        if outcome is SliceOutcome.CONTINUED:
            until = self._clock.now() + timedelta(seconds=self._policy.claim_seconds)
            if await self._runs.renew_lease(work.run_id, work.holder, until, next_seq=work.cursor):
                try:
                    await self._jobs.enqueue(SEND_RUN_JOB, run_id=work.run_id, lease=work.holder)
                    return outcome
                except Exception:
                    log.warning("run %s: the next slice could not be queued", work.run_id)
            outcome = SliceOutcome.STOPPED
        await self._runs.release_lease(work.run_id, work.holder)
        await self._follow_campaign(work.run_id, await self._campaigns.get(run.campaign_id))
        return outcome

    async def _keep_media_id(self, work: RunSlice) -> None:
        """The uploaded file's id on the run (one write a run, when it changed), for its
        next slices and a resume (best effort: without it, the next slice uploads once)."""
        media_id = work.reused.media_id
        if media_id == work.run.media_id:
            return
        try:
            await self._runs.update(work.run_id, {"media_id": media_id})
        except ServiceUnavailable:
            log.warning("run %s: the file's id could not be kept", work.run_id)

    async def _follow_campaign(self, run_id: str, campaign: Campaign | None) -> None:
        """A run stopped because its campaign was paused or cancelled takes that status
        too (a cancelled run's pending rows are skipped, `cancelled`)."""
        if campaign is None:
            return
        now = self._clock.now()
        if campaign.status is CampaignStatus.PAUSED:
            await self._runs.update(run_id, {"status": RunStatus.PAUSED},
                                    statuses=frozenset({RunStatus.SENDING}))  # fmt: skip
        elif campaign.status is CampaignStatus.CANCELLED:
            await self._runs.update(
                run_id, {"status": RunStatus.CANCELLED, "finished_at": now},
                statuses=frozenset({RunStatus.SENDING, RunStatus.PAUSED}),
            )  # fmt: skip
            await self._recipients.cancel_pending(run_id, now)

    async def _pause(self, run: CampaignRun, campaign: Campaign, why: str) -> None:
        """The campaign waits for a resume (its channel needs a working token)."""
        await self._stop(run, campaign, CampaignAction.PAUSE, {"status": RunStatus.PAUSED}, why)

    async def _fail(self, run: CampaignRun, campaign: Campaign, why: str) -> None:
        """The campaign cannot send at all (its channel or template is gone)."""
        changes = {"status": RunStatus.FAILED, "finished_at": self._clock.now()}
        await self._stop(run, campaign, CampaignAction.FAIL, changes, why)

    async def _stop(
        self,
        run: CampaignRun,
        campaign: Campaign,
        action: CampaignAction,
        changes: dict[str, object],
        why: str,
    ) -> None:
        await self._campaigns.update(
            campaign.id or "",
            {"status": transition(CampaignStatus.RUNNING, action)},
            statuses=allowed_from(action),
        )
        await self._runs.update(
            run.id or "", {**changes, "error": why, "lease_holder": None, "lease_until": None},
            statuses=frozenset({RunStatus.SENDING}),
        )  # fmt: skip
        log.warning("run %s stopped (%s): %s", run.id, action.value, why)

    # -- the slice -------------------------------------------------------------------------

    async def _send(self, work: RunSlice) -> SliceOutcome:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.slice_seconds
        heart = asyncio.create_task(self._heartbeat(work))  # beside: the token loop never waits
        try:
            while work.stop is None:
                if loop.time() >= deadline:
                    return SliceOutcome.CONTINUED
                try:
                    await self._step(work, loop)
                except ServiceUnavailable:  # a slow database or Redis: the lease outlasts it
                    log.warning("run %s: the database or cache is slow; waiting", work.run_id)
                    await asyncio.sleep(1.0)
            return work.stop
        finally:
            heart.cancel()
            if work.batches:  # every request in flight is answered and recorded
                await asyncio.gather(*list(work.batches), return_exceptions=True)

    async def _heartbeat(self, work: RunSlice) -> None:
        """Every `heartbeat_seconds`: renew the lease; a run paused, cancelled or taken
        over stops the slice."""
        while work.stop is None:
            await asyncio.sleep(self._policy.heartbeat_seconds)
            try:
                if not await self._beat(work):
                    work.stop = SliceOutcome.STOPPED
            except ServiceUnavailable:
                log.warning("run %s: the lease could not be renewed now", work.run_id)

    async def _beat(self, work: RunSlice) -> bool:
        """Renew the lease; False when the run stopped (or the lease was lost)."""
        until = self._clock.now() + timedelta(seconds=self._policy.claim_seconds)
        if not await self._runs.renew_lease(work.run_id, work.holder, until, next_seq=work.cursor):
            return False
        campaign = await self._campaigns.get(work.campaign.id or "")
        return campaign is not None and campaign.status is CampaignStatus.RUNNING

    async def _step(self, work: RunSlice, loop: asyncio.AbstractEventLoop) -> None:
        """Take tokens for free slots and claim (in the background, so that the next tokens
        are taken on time), or wait for what stands in the way: slots, tokens, a throughput
        hold, the last requests of a run with nothing left to claim."""
        if work.hold_until > loop.time():
            await asyncio.sleep(min(work.hold_until - loop.time(), 1.0))
            return
        if work.drained:
            await self._drained(work)
            return
        tail = work.cursor >= work.run.recipients  # every window claimed: the rows left
        free = min(self._policy.max_in_flight - work.in_flight, self._policy.batch_size)
        if free <= 0 or (tail and work.tail_claim):
            work.freed.clear()
            await _wait(work.freed, 1.0)
            return
        granted, wait = await self._limiter.take_up_to(work.limits, free)
        # Fewer tokens than slots: the bucket is empty; let it fill for half its burst so
        # that claims come in batches (never so long that it overflows: the rate holds).
        pause = 0.0 if granted == free else max(wait, self._policy.burst_seconds / 2)
        if granted:
            work.in_flight += granted  # slots held before the claim
            work.tail_claim = work.tail_claim or tail
            task = asyncio.create_task(self._claim(work, granted, tail=tail))
            work.batches.add(task)
            task.add_done_callback(work.batches.discard)
        if pause:
            await asyncio.sleep(min(pause, 1.0))

    async def _drained(self, work: RunSlice) -> None:
        """Nothing was left to claim: once the last requests are recorded, the run is
        finished, or (rows backing off, a dead worker's claims) looked at again."""
        if work.in_flight or work.batches:
            work.freed.clear()
            await _wait(work.freed, 1.0)
            return
        if await self._settled(work):
            work.stop = SliceOutcome.FINISHED
            return
        work.drained = False
        await asyncio.sleep(1.0)

    async def _claim(self, work: RunSlice, granted: int, *, tail: bool) -> None:
        claim = uuid.uuid4().hex
        try:
            rows = await self._claim_rows(work, granted, claim, self._clock.now(), tail=tail)
        except Exception:
            log.exception("run %s: a claim failed", work.run_id)
            rows = []
        finally:
            if tail:
                work.tail_claim = False
            work.release(granted)
        if rows:
            work.in_flight += len(rows)  # held until the batch's outcomes are recorded
            await self._batches.execute(work, claim, rows)
        elif tail:
            work.drained = True

    async def _claim_rows(
        self, work: RunSlice, wanted: int, claim: str, now: datetime, *, tail: bool
    ) -> list[CampaignRecipient]:
        """Up to `wanted` rows: the next windows of the snapshot's order (a few at most, in
        case rows of a window are not to send); for the one `tail` claim, past the last
        window, the pending rows left behind (backing off, or released)."""
        until = now + timedelta(seconds=self._policy.claim_seconds)
        rows: list[CampaignRecipient] = []
        for _ in range(WINDOWS_PER_CLAIM):
            if work.cursor >= work.run.recipients or len(rows) >= wanted:
                break
            start, work.cursor = work.cursor, work.cursor + wanted - len(rows)
            rows += await self._recipients.claim_range(
                work.run_id, start, work.cursor, claim, until, now
            )
        if tail:
            rows = await self._recipients.claim_batch(work.run_id, wanted, claim, until, now)
        return rows

    async def _settled(self, work: RunSlice) -> bool:
        """Nothing left to send: no pending row, and no claimed row (a dead worker's
        expired claims are settled here, as the sweep would: never resent)."""
        pending, sending = await self._recipients.unsettled(work.run_id)
        if pending:
            return False
        if sending:
            now = self._clock.now()
            expired = await self._recipients.expired_claims(work.run_id, now)
            await self._recipients.record_results([unknown(row, now) for row in expired])
            return len(expired) >= sending
        return True


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set, at most `seconds`."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
