"""One claimed batch of a campaign run: the rows' contacts read once (opted out or deleted
since the snapshot: skipped; marked for the marketing limit: skipped), a request per row
left, then one bulk write of the results (tried again when the database was slow: each
row's write is guarded by its claim; the batch's slots are given back only then), then
what the answers ask for: 131049 marks the contact for 24 hours, 131050 opts it out.
Before the requests, the rows to send reserve the plan's messages of the month (as many
as are left): the rows past it fail `plan_limit_reached` (never sent), and what was
reserved for rows not sent is given back after the answers.

Where the provider limits each chat (Telegram: about one message a second), a row's
request also takes a token of its chat's bucket, shared with the inbox's sends (waited
for up to `CHAT_WAIT_SECONDS`; longer, the row goes back, not before the bucket has one).

`RunSlice` is the state of one slice of the send engine that its batches share: the run,
its campaign, channel, template (or plain message and its file's bytes, uploaded once and
then sent by the provider's id: `ReusedMedia`) and gateway, the rate buckets, the request
slots in use, the cursor in the snapshot's order and why the slice must stop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from api.domain.clock import Clock
from api.domain.errors import ServiceUnavailable
from api.domain.messaging.campaign_sending import MarketingLimitMarks
from api.domain.messaging.campaigns import (
    Campaign,
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRun,
    RecipientOutcome,
    RecipientResult,
    SkipReason,
)
from api.domain.messaging.channels import Channel, ChannelRepository, recipient_rate
from api.domain.messaging.contacts import ConsentState, ContactRepository
from api.domain.messaging.content import OutboundMessage
from api.domain.messaging.gateway import ChannelGateway
from api.domain.messaging.outbound import RateLimit, SendRateLimiter, chat_bucket
from api.domain.messaging.templates import Template
from api.domain.plans import LimitName, PlanLimitReached
from api.usecases.kernel.plan_gate import PlanGate, Reservation
from api.usecases.messaging.campaign_media import ReusedMedia
from api.usecases.messaging.campaign_sending_rules import (
    MARKETING_LIMITED,
    MESSAGE_TOO_LONG,
    MISSING_VARIABLE,
    OUTCOME_UNKNOWN,
    CampaignSendPolicy,
    MessageTooLong,
    MissingVariable,
    holds_the_number,
    outbound_of,
    plain_outbound_of,
    result_of_failure,
    stops_the_run,
)
from api.usecases.messaging.contact_rules import MARKETING_OPTED_OUT, ContactConsent
from api.usecases.messaging.rules import provider_call

log = logging.getLogger(__name__)
RECORD_ATTEMPTS = 4
CHAT_WAIT_SECONDS = 5.0
CHAT_RATE_LIMITED = "chat_rate_limited"


class SliceOutcome(StrEnum):
    CONTINUED = "continued"  # handed over to the next slice's job
    FINISHED = "finished"  # nothing left: the run is completed
    STOPPED = "stopped"  # paused, cancelled, failed, or the lease was lost
    BUSY = "busy"  # another job holds the run (or it is not sending)


@dataclass
class RunSlice:
    run: CampaignRun
    campaign: Campaign
    channel: Channel
    template: Template | None  # None: the campaign's plain message
    gateway: ChannelGateway
    limits: list[RateLimit]
    holder: str
    in_flight: int = 0
    freed: asyncio.Event = field(default_factory=asyncio.Event)
    batches: set[asyncio.Task[None]] = field(default_factory=set)
    hold_until: float = 0.0  # loop time before which nothing is claimed (130429)
    cursor: int = 0  # the next `seq` to claim from (rows below were claimed once)
    drained: bool = False  # the last claim found nothing left
    tail_claim: bool = False  # a claim of the pending rows past the last window is running
    stop: SliceOutcome | None = None
    token_refused: bool = False
    plan_limited: bool | None = None  # the plan limits the month's messages (None: unread)
    media: bytes | None = None  # the plain message's file, read once a slice (uploads)
    media_link: str | None = None  # ... or its signed link (providers that fetch it)
    reused: ReusedMedia = field(default_factory=ReusedMedia)  # the uploaded file's id

    @property
    def run_id(self) -> str:
        return self.run.id or ""

    def message_of(self, row: CampaignRecipient) -> OutboundMessage:
        """The row's message: the template, else the plain message (`MissingVariable`,
        `MessageTooLong` when it cannot be sent)."""
        if self.template is not None:
            return outbound_of(row, self.template)
        if self.campaign.message is None:
            raise ValueError("a campaign has a template or a message")
        return plain_outbound_of(row, self.campaign.message, self.media, self.media_link)

    def release(self, slots: int) -> None:
        self.in_flight -= slots
        self.freed.set()


class SendCampaignBatch:
    def __init__(
        self,
        recipients: CampaignRecipientRepository,
        channels: ChannelRepository,
        contacts: ContactRepository,
        consent: ContactConsent,
        marks: MarketingLimitMarks,
        clock: Clock,
        policy: CampaignSendPolicy,
        gate: PlanGate,
        limiter: SendRateLimiter,
    ) -> None:
        self._limiter = limiter
        self._gate = gate
        self._recipients = recipients
        self._channels = channels
        self._contacts = contacts
        self._consent = consent
        self._marks = marks
        self._clock = clock
        self._policy = policy

    async def execute(self, work: RunSlice, claim: str, rows: list[CampaignRecipient]) -> None:
        """Skip, send and record one claimed batch. The batch's slots are given back once
        its outcomes are recorded, not when its requests are answered: a database slower
        than the sends then slows the claims instead of letting recorded outcomes fall
        behind until their claims run out (the sweep would settle those rows as
        `outcome_unknown`), and a worker that dies leaves at most `max_in_flight` rows
        sent but unrecorded."""
        results: list[RecipientResult] = []
        held = len(rows)
        now = self._clock.now()
        ids = [row.contact_id for row in rows]
        try:
            states = await self._contacts.consent_states(ids)
            limited = await self._marks.marked(ids)
        except Exception:  # nothing was sent: the rows go back, to be claimed again
            log.exception("run %s: a batch's contacts could not be read", work.run_id)
            await self._give_back(claim, rows, now)
            work.release(held)
            return
        try:
            calls = []
            for row in rows:
                reason = _skip_reason(row, states, limited)
                if reason is not None:
                    results.append(RecipientResult(
                        recipient_id=row.id or "", claim=claim, at=now,
                        outcome=RecipientOutcome.SKIPPED, skip_reason=reason,
                    ))  # fmt: skip
                    continue
                try:
                    message = work.message_of(row)
                except (MissingVariable, MessageTooLong) as invalid:
                    missing = isinstance(invalid, MissingVariable)
                    results.append(RecipientResult(
                        recipient_id=row.id or "", claim=claim, at=now,
                        outcome=RecipientOutcome.FAILED,
                        error_code=MISSING_VARIABLE if missing else MESSAGE_TOO_LONG,
                        error_title=f"No value for the variable {invalid}." if missing
                        else f"The message is too long ({invalid}).",
                    ))  # fmt: skip
                    continue
                calls.append((row, message))
            try:
                reservation, allowed = await self._reserve(work, len(calls))
            except ServiceUnavailable:  # nothing was sent: the rows go back
                log.warning("run %s: the plan's counter is unavailable", work.run_id)
                await self._give_back(claim, rows, now)
                return
            results.extend(_refused(claim, calls[allowed:], now, reservation))
            calls = calls[:allowed]
            answered = await asyncio.gather(
                *(self._call(work, claim, row, message) for row, message in calls)
            )
            results.extend(answered)
            unsent = sum(1 for r in answered if r.outcome is not RecipientOutcome.SENT)
            if isinstance(reservation, Reservation):
                await self._gate.release(reservation, unsent)

            await self._record(results)
            await self._follow_up(rows, results)
        except Exception:
            log.exception("run %s: a batch of %d rows failed", work.run_id, len(rows))
        finally:
            if held:
                work.release(held)

    async def _reserve(
        self, work: RunSlice, wanted: int
    ) -> tuple[Reservation | PlanLimitReached, int]:
        """As many of the month's messages as the plan has left, up to `wanted`: the
        reservation and how many rows it covers (every row when unlimited: read once a
        slice, so that an unlimited tenant's sends wait for nothing), or the refusal
        when none is left."""
        if work.plan_limited is None:
            work.plan_limited = await self._gate.limit(LimitName.MESSAGES_PER_MONTH) is not None
        if not wanted or not work.plan_limited:
            return Reservation("", 0), wanted
        try:
            reservation = await self._gate.reserve(LimitName.MESSAGES_PER_MONTH, wanted, least=1)
        except PlanLimitReached as refused:
            return refused, 0
        return reservation, reservation.amount if reservation.key else wanted

    async def _give_back(self, claim: str, rows: list[CampaignRecipient], now: datetime) -> None:
        """Claimed rows that were not sent become pending again (best effort: left claimed,
        the sweep settles them as `outcome_unknown`, never resent)."""
        back = [
            RecipientResult(recipient_id=row.id or "", claim=claim, at=now,
                            outcome=RecipientOutcome.RETRY, not_before=now)
            for row in rows
        ]  # fmt: skip
        try:
            await self._record(back)
        except Exception:
            log.exception("%d claimed rows could not be given back", len(rows))

    async def _record(self, results: list[RecipientResult]) -> None:
        """One bulk write; tried again when the database was unavailable or slow (each row's
        write is guarded by its claim, so one applied twice changes nothing)."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._recipients.record_results(results)
                return
            except ServiceUnavailable:
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)

    async def _call(
        self, work: RunSlice, claim: str, row: CampaignRecipient, message: OutboundMessage
    ) -> RecipientResult:
        try:
            wait = await self._chat_turn(work, message)
        except ServiceUnavailable:
            wait = 1.0
        if wait:  # not sent: the row goes back, not before the chat has a token
            now = self._clock.now()
            return RecipientResult(
                recipient_id=row.id or "", claim=claim, at=now, outcome=RecipientOutcome.RETRY,
                error_code=CHAT_RATE_LIMITED, error_title="The chat's send rate is used up.",
                not_before=now + timedelta(seconds=wait),
            )  # fmt: skip
        try:
            async with provider_call(self._channels, work.channel):
                result = await work.reused.send(message, work.gateway.send)
        except Exception as exc:
            now = self._clock.now()
            if stops_the_run(exc):
                work.token_refused = True
                work.stop = SliceOutcome.STOPPED
            if hold := holds_the_number(exc):
                loop = asyncio.get_running_loop()
                work.hold_until = max(work.hold_until, loop.time() + hold)
            return result_of_failure(row, claim, exc, now, self._policy)
        return RecipientResult(
            recipient_id=row.id or "", claim=claim, at=self._clock.now(),
            outcome=RecipientOutcome.SENT, wamid=result.external_id,
        )  # fmt: skip

    async def _chat_turn(self, work: RunSlice, message: OutboundMessage) -> float:
        """A token of the recipient's chat bucket where the provider limits each chat: 0.0
        once taken (waited for up to `CHAT_WAIT_SECONDS`), else the seconds still to wait."""
        rate = recipient_rate(work.channel.type)
        chat = message.recipient.user_id or message.recipient.phone
        if rate is None or not chat:
            return 0.0
        bucket = chat_bucket(work.channel.type.value, work.channel.account_id, chat)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CHAT_WAIT_SECONDS
        while (wait := await self._limiter.take(bucket, rate=rate, capacity=rate)) > 0:
            if loop.time() + wait > deadline:
                return wait
            await asyncio.sleep(wait)
        return 0.0

    async def _follow_up(
        self, rows: list[CampaignRecipient], results: list[RecipientResult]
    ) -> None:
        """131049: the contact is marked for 24 hours; 131050: the contact is opted out."""
        contact_of = {row.id: row.contact_id for row in rows}
        limited = [contact_of[r.recipient_id] for r in results
                   if r.error_code == str(MARKETING_LIMITED)]  # fmt: skip
        if limited:
            await self._marks.mark(limited, self._policy.marketing_limit_seconds)
        for result in results:
            if result.error_code == str(MARKETING_OPTED_OUT):
                await self._consent.marketing_refused(contact_of[result.recipient_id], result.at)


def _refused(
    claim: str,
    calls: list[tuple[CampaignRecipient, OutboundMessage]],
    now: datetime,
    reservation: Reservation | PlanLimitReached,
) -> list[RecipientResult]:
    """Rows past the plan's messages of the month: failed, saying why (never sent)."""
    if not calls:
        return []
    why = (
        reservation.detail if isinstance(reservation, PlanLimitReached)
        else "The plan's limit 'messages_per_month' is reached for this month."
    )  # fmt: skip
    return [
        RecipientResult(
            recipient_id=row.id or "",
            claim=claim,
            at=now,
            outcome=RecipientOutcome.FAILED,
            error_code=PlanLimitReached.code,
            error_title=why,
        )
        for row, _ in calls
    ]


def unknown(row: CampaignRecipient, now: datetime) -> RecipientResult:
    """A row whose claim ran out with no recorded outcome: its request may have reached the
    provider, so it is never sent again."""
    return RecipientResult(
        recipient_id=row.id or "", claim=row.claim or "", at=now,
        outcome=RecipientOutcome.FAILED, error_code=OUTCOME_UNKNOWN,
        error_title="The worker stopped before the outcome was recorded.",
    )  # fmt: skip


def _skip_reason(
    row: CampaignRecipient, states: dict[str, ConsentState], limited: set[str]
) -> SkipReason | None:
    state = states.get(row.contact_id)
    if state is None or state.deleted:
        return SkipReason.DELETED
    if state.opted_out:
        return SkipReason.OPTED_OUT
    if row.contact_id in limited:
        return SkipReason.RECENT_MARKETING_LIMIT
    if row.address.empty:
        return SkipReason.NO_ADDRESS
    return None
