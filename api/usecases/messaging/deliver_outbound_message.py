"""The send job's work: hand one queued message to its channel's provider.

- A message that is not `queued` any more (sent by an earlier run, failed, or gone) is
  left alone: a redelivered job sends nothing twice. A run claims the message first
  (atomic, for `lease_seconds`): a second run meanwhile (the job delivered twice) does
  not call the provider but retries once the claim has run out, and then finds the
  message settled, or, if the holder died mid-way, sends it. (Should a worker die after
  the provider accepted the message and before its id was stored, that resend is the one
  duplicate possible; the provider's status webhook carries Parley's id as its tracker
  and usually settles the message first.)
- With `channel_max_in_flight` set (0: off), at most that many sends of one channel are
  at its provider at once (slots
  shared by every worker): a send finding them all taken gives its claim back and is
  queued again (`Deferred`, its attempts untouched), so a provider that hangs holds a few
  of the workers' threads, never all of them, and other channels keep sending.
- The number's rate bucket (`messages_per_second` of the channel, shared by every worker
  through Redis) is waited for, not failed on; so is the recipient's where the provider
  limits each chat (Telegram: about one message a second).
- Accepted: the provider's id is kept as `external_id` and the message moves to `sent`,
  forward only (a status webhook may have got there first, even `delivered`). That record
  is stored on the worker's loop once the run has returned (`SentRecords`: at most the
  process's threads at once, a send finding no room waiting for it), tried again for a
  while if the database is away, then logged; the claim holds the message until it is
  stored, so a run meanwhile calls the provider no second time, and a stopping worker
  waits for the records in flight (`drain_background`).
- `ChannelRateLimited` / `ChannelTransientFailure` (throughput 130429, pair rate 131056,
  Telegram's 429, 5xx, timeouts) are raised again so the job retries with backoff; a
  provider's `retry_after` also holds the bucket (the chat's where the provider limits
  each chat, else the number's) that long, so the retry waits it out whatever the
  backoff's cap; on the last attempt
  the message fails with the provider's code instead.
- Storage or Redis unavailable: retried likewise; a stored file deleted since: failed.
- `ChannelTokenInvalid` (190): the channel is read again (the worker may have kept it from
  before a token rotation, `SendingChannels`): a token rotated since is tried once; with
  the same token the channel becomes `token_invalid` and the message fails.
- Any other `ChannelPermanentFailure` (131047, 131026, 131049, 131050...): the message
  fails keeping the provider's code, title and details; on 131050 (the customer stopped
  marketing messages) the contact is opted out too (source `provider`), as the status
  webhook with that code does.

Every change of the message is published as `message.updated` (best effort).

What a send reads: its claim and its message, and the channel from `SendingChannels` (an
active one kept by the worker a few seconds); the recipient is the message's own when it
was queued with one (WhatsApp), else its conversation's. The move to `sent` is not read
back (`MessageRepository.mark_sent`). The claim and the message are asked for at once
(`claim_send`); once the provider answered and the slot is given back, the run returns:
the move to `sent`, then the claim's end (`end_send`) and the `message.updated` of
`sent`, follow without the run waiting: each send's wall time in a worker thread is what
limits a worker's rate (bench/README.md, "sends.py", "Sends, sixth pass").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from enum import StrEnum

from api.common.background import in_background
from api.domain.clock import Clock
from api.domain.errors import (
    Deferred,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TemporaryFailure,
)
from api.domain.messaging.channels import (
    MAX_UPLOAD_BYTES,
    Channel,
    ChannelRepository,
    ChannelStatus,
    ChannelType,
    recipient_rate,
    uploads_media,
)
from api.domain.messaging.contacts import ContactIdentityRepository
from api.domain.messaging.content import OutboundContent, OutboundMessage, Recipient, SendResult
from api.domain.messaging.conversations import ContactSummary, ConversationRepository
from api.domain.messaging.errors import (
    ChannelPermanentFailure,
    ChannelRateLimited,
    ChannelTokenInvalid,
    ChannelTransientFailure,
)
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.messages import (
    Message,
    MessageError,
    MessageRepository,
)
from api.domain.messaging.outbound import (
    MediaDraft,
    OutboundFiles,
    SendingChannels,
    SendRateLimiter,
    Slot,
    chat_bucket,
    number_bucket,
)
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.slots import ProviderSlots
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.contact_rules import MARKETING_OPTED_OUT, ContactConsent
from api.usecases.messaging.rules import provider_call, token_refused
from api.usecases.messaging.sending_rules import (
    SendInProgress,
    SendPolicy,
    SentRecords,
    draft_of,
    human_agent_allowed,
    needs_human_agent_tag,
    reaction,
    sendable,
    whatsapp_recipient,
)

log = logging.getLogger(__name__)
# A `sent` record starts this late: the thread let go takes its next job at once, and
# that job's read of its message (asked with its claim) would otherwise reach the database
# just behind the record and wait for it (the embedded server, in Python, serves its
# commands one after another), giving back in the claim what the thread saved; this late,
# the record lands while that job waits for the provider (bench/README.md, "Sends, sixth
# pass").
_RECORD_AFTER_SECONDS = 0.015
# A `sent` record failing for the database's absence is tried again after these pauses
# (about 16 s in all, well within the claim's lease), then logged as an error.
_RECORD_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)


class DeliveryOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # not queued any more, or not an outbound message


class DeliverOutboundMessage:
    def __init__(
        self,
        messages: MessageRepository,
        channels: ChannelRepository,
        conversations: ConversationRepository,
        gateways: ChannelGateways,
        files: OutboundFiles,
        limiter: SendRateLimiter,
        clock: Clock,
        policy: SendPolicy,
        events: InboxEvents,
        consent: ContactConsent,
        identities: ContactIdentityRepository,
        slots: ProviderSlots,
        sending: SendingChannels,
        records: SentRecords,
    ) -> None:
        self._records = records
        self._sending = sending
        self._identities = identities
        self._slots = slots
        self._events = events
        self._consent = consent
        self._messages = messages
        self._channels = channels
        self._conversations = conversations
        self._gateways = gateways
        self._files = files
        self._limiter = limiter
        self._clock = clock
        self._policy = policy

    async def execute(self, message_id: str, *, final_attempt: bool) -> DeliveryOutcome:
        now = self._clock.now()
        claim = await self._messages.claim_send(
            message_id, now=now, until=now + timedelta(seconds=self._policy.lease_seconds)
        )
        message = claim.message
        if message is None or message.id is None:
            if claim.held_until is None or final_attempt:
                return DeliveryOutcome.SKIPPED  # settled, gone, or another run settles it
            raise SendInProgress(retry_after=(claim.held_until - now).total_seconds())
        channel = await self._sending.get(message.channel_id)
        if channel is None or channel.status is not ChannelStatus.ACTIVE:
            state = channel.status.value if channel else "gone"
            return await self._fail(message, MessageError(title=f"Channel {state}"))
        outbound: OutboundMessage | None = None
        try:
            outbound = await self._outbound(message, channel)
            async with self._slot_and_rate(channel, message.id, outbound.recipient):
                result = await self._provider_send(channel, outbound)
                accepted = stored_time(self._clock.now())
        except Deferred:
            await self._messages.release_send(message.id)  # the next run claims it again
            raise
        except ChannelTokenInvalid as exc:  # the channel is marked token_invalid
            return await self._fail(message, _error_of(exc))
        except ChannelRateLimited as exc:
            if exc.provider_code is not None:  # the provider's, not our own bucket's
                await self._hold_rate(channel, exc.retry_after, outbound)
            if not final_attempt:
                await self._messages.release_send(message.id)  # the retry claims it again
                raise
            return await self._fail(message, _error_of(exc))
        except (ChannelTransientFailure, TemporaryFailure, ServiceUnavailable) as exc:
            if not final_attempt:
                await self._messages.release_send(message.id)  # the retry claims it again
                raise
            return await self._fail(message, _error_of(exc))
        except (ChannelPermanentFailure, NotFound) as exc:  # NotFound: its file was deleted
            error = _error_of(exc)
            if error.code == MARKETING_OPTED_OUT:
                await self._consent.marketing_refused(message.contact_id, self._clock.now())
            return await self._fail(message, error)
        # Recorded on this loop once the run has returned (out of the `try` above: a
        # failure to store is not the provider's, and must not give the claim up).
        await self._records.start(
            self._record_sent(message, result.external_id, accepted),
            log, logging.ERROR, f"message {message.id} sent but not recorded",
        )  # fmt: skip
        return DeliveryOutcome.SENT

    async def _record_sent(self, message: Message, external_id: str, at: datetime) -> None:
        """The move to `sent`, tried again while the database is away (the claim still
        holds the message meanwhile); then the claim ends and `message.updated` goes.
        Started `_RECORD_AFTER_SECONDS` late, so the thread's next job's claim reaches
        the database first."""
        assert message.id is not None  # noqa: S101 - stored
        await asyncio.sleep(_RECORD_AFTER_SECONDS)
        for pause in (*_RECORD_PAUSES, None):
            try:
                sent = await self._messages.mark_sent(message, external_id, at)
                break
            except (ServiceUnavailable, TemporaryFailure) as exc:
                if pause is None:
                    raise
                log.warning(
                    "message %s sent; its record failed (%s), again in %.1fs",
                    message.id, type(exc).__name__, pause,
                )  # fmt: skip
                await asyncio.sleep(pause)
        self._messages.end_send(message.id)  # not waited for: it holds nothing now
        if sent is not None:  # stored: published, nothing waiting for it
            _publish_later(
                self._events, InboxEvent.of_message(InboxEventType.MESSAGE_UPDATED, sent)
            )

    async def _provider_send(self, channel: Channel, outbound: OutboundMessage) -> SendResult:
        """The provider call. A refused token is checked against the stored channel first
        (this process may have kept the channel from before a rotation): a token rotated
        since is tried once; the same token (or none) marks the channel `token_invalid`."""
        assert channel.id is not None  # noqa: S101 - stored
        try:
            try:
                return await self._gateways.for_channel(channel).send(outbound)
            except ChannelTokenInvalid:
                stored = await self._sending.fresh(channel.id)
                if (
                    stored is None
                    or stored.status is not ChannelStatus.ACTIVE
                    or _token(stored) == _token(channel)
                ):
                    await token_refused(self._channels, channel)
                    raise
            log.info("channel %s: token rotated since it was read; sending again", channel.id)
            async with provider_call(self._channels, stored):
                return await self._gateways.for_channel(stored).send(outbound)
        except ChannelTokenInvalid:
            self._sending.forget(channel.id)  # token_invalid now: not to be kept
            raise

    @contextlib.asynccontextmanager
    async def _slot_and_rate(
        self, channel: Channel, holder: str, recipient: Recipient
    ) -> AsyncIterator[None]:
        """One of the channel's provider slots for this run (else `Deferred`), then the
        rate's tokens (waited for), held while the block runs. The slot and the number's
        token are asked for in one round trip, the token taken only once the slot is had
        (a deferred send spends none)."""
        policy = self._policy
        buckets = self._buckets(channel, recipient)
        if policy.channel_max_in_flight == 0:  # no cap
            await self._wait_for_rate(buckets)
            yield
            return
        slot = Slot(f"channel:{channel.id}", holder, policy.channel_max_in_flight,
                    policy.lease_seconds)  # fmt: skip
        bucket, rate, _ = buckets[0]
        wait = await self._limiter.take_in_slot(bucket, rate=rate, capacity=rate, slot=slot)
        if wait is None:
            raise Deferred("The channel's provider slots are taken.",
                           policy.channel_busy_retry_seconds)  # fmt: skip
        try:
            await self._wait_for_rate(buckets, first_wait=wait)
            yield
        finally:
            with contextlib.suppress(ServiceUnavailable):  # it runs out by itself
                await self._slots.release(slot.key, holder)

    async def _updated(self, message_id: str) -> None:
        """Publish `message.updated` with the message as stored now (a status webhook may
        have moved it further meanwhile)."""
        message = await self._messages.get(message_id)
        if message is not None:
            await self._events.publish(
                InboxEvent.of_message(InboxEventType.MESSAGE_UPDATED, message)
            )

    async def _outbound(self, message: Message, channel: Channel) -> OutboundMessage:
        recipient, human_agent = await self._addressed(message, channel)
        content: OutboundContent
        if message.type == "reaction":
            content = reaction(message)
        else:
            draft = draft_of(message)
            link, data = None, None
            if isinstance(draft, MediaDraft) and draft.file_id is not None:
                if uploads_media(channel.type):
                    data = await self._upload(draft.file_id)
                else:
                    link = await self._files.public_link(draft.file_id)
            content = sendable(draft, link=link, data=data)
        return OutboundMessage(
            recipient=recipient,
            content=content,
            reply_to=message.reply_to_external_id,
            tracker=message.id,
            human_agent=human_agent,
        )

    async def _addressed(self, message: Message, channel: Channel) -> tuple[Recipient, bool]:
        """The recipient, and whether the send needs the human-agent tag: from the message
        when it was queued with its recipient and the channel has no such tag (WhatsApp),
        else from its conversation."""
        if message.recipient is not None and not human_agent_allowed(channel):
            return message.recipient, False
        conversation = await self._conversations.get(message.conversation_id)
        if conversation is None:
            raise ChannelPermanentFailure("The message's conversation is gone.")
        recipient = await self._recipient(conversation.contact, channel)
        return recipient, needs_human_agent_tag(channel, conversation, self._clock.now())

    async def _upload(self, file_id: str) -> bytes:
        try:
            return await self._files.read(file_id, max_bytes=MAX_UPLOAD_BYTES)
        except PayloadTooLarge:
            raise ChannelPermanentFailure("The file is over the provider's upload limit.") from None

    async def _recipient(self, contact: ContactSummary, channel: Channel) -> Recipient:
        """WhatsApp: the number, else the BSUID; other providers: the contact's user id on
        the channel's account (Telegram's chat, Messenger's PSID, Instagram's IGSID)."""
        if channel.type is ChannelType.WHATSAPP:
            return whatsapp_recipient(contact)
        user_id = await self._identities.user_id_on(contact.id, channel.type, channel.account_id)
        if user_id is None:
            raise ChannelPermanentFailure("The contact has no user id on this channel.")
        return Recipient(user_id=user_id)

    def _buckets(self, channel: Channel, recipient: Recipient) -> list[tuple[str, int, str]]:
        """The account's bucket, then (Telegram: about 1/s per chat) the recipient's."""
        buckets = [(number_bucket(channel.type.value, channel.account_id),
                    channel.messages_per_second, "The number's send rate is used up.")]  # fmt: skip
        per_recipient = recipient_rate(channel.type)
        if per_recipient is not None:
            chat = recipient.user_id or recipient.phone or ""
            buckets.append((chat_bucket(channel.type.value, channel.account_id, chat),
                            per_recipient, "The chat's send rate is used up."))  # fmt: skip
        return buckets

    async def _hold_rate(
        self, channel: Channel, seconds: float, outbound: OutboundMessage | None
    ) -> None:
        """The provider said to wait `seconds`: the recipient's bucket where the provider
        limits each chat (else the account's) gives no token meanwhile, to every worker,
        so the retry (whatever its backoff cap) and the sends behind it wait that long."""
        if seconds <= 0 or outbound is None:
            return
        bucket, rate, _ = self._buckets(channel, outbound.recipient)[-1]
        with contextlib.suppress(ServiceUnavailable):  # the retry's backoff still applies
            await self._limiter.hold(bucket, seconds=seconds, rate=rate, capacity=rate)

    async def _wait_for_rate(
        self, buckets: list[tuple[str, int, str]], first_wait: float | None = None
    ) -> None:
        """A token of each bucket, waited for (`first_wait`: the first's `take` already
        answered)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.rate_max_wait_seconds
        for index, (bucket, rate, used_up) in enumerate(buckets):
            wait = first_wait if index == 0 and first_wait is not None else None
            if wait is None:
                wait = await self._limiter.take(bucket, rate=rate, capacity=rate)
            while wait > 0:
                if loop.time() + wait > deadline:
                    raise ChannelRateLimited(wait, used_up)
                await asyncio.sleep(wait)
                wait = await self._limiter.take(bucket, rate=rate, capacity=rate)

    async def _fail(self, message: Message, error: MessageError) -> DeliveryOutcome:
        assert message.id is not None  # noqa: S101 - stored
        if await self._messages.fail(message.id, error, self._clock.now()):
            await self._updated(message.id)
        log.info("message %s failed: %s %s", message.id, error.code, error.title)
        return DeliveryOutcome.FAILED


def _publish_later(events: InboxEvents, event: InboxEvent) -> None:
    """Publish `event` (its change is stored) on this loop without the caller waiting: the
    send's thread takes its next job a Redis round trip sooner (bench/README.md, "Sends,
    fifth pass"). Best effort, as every event (`InboxEvents.publish` logs a failure)."""
    in_background(events.publish(event), log, logging.WARNING, "message.updated not published")


def _token(channel: Channel) -> str | None:
    return channel.secrets.get(channel.credential_secret)


def _error_of(exc: Exception) -> MessageError:
    code = getattr(exc, "provider_code", None)
    title = getattr(exc, "provider_title", None) or str(exc)
    return MessageError(code=code, title=title[:300], details=getattr(exc, "details", None))
