"""Queue a message for sending: THE one way into the sending path, for agents' replies,
out-of-hours auto-replies, campaigns and assistants alike (they differ by `sender`).

Rules, checked before anything is stored or sent:
- the target: a conversation of the tenant, or a channel of the tenant and a recipient
  (`to`: on WhatsApp an E.164 phone or business-scoped user id; on Telegram the chat id,
  on Messenger the PSID, on Instagram the IGSID, each checked for its shape,
  `InvalidRecipient`; the contact and its conversation are found, or created when the
  message is queued, like an inbound message would);
  another tenant's conversation, channel, file or message is `NotFound`; a
  department-limited caller only writes in their departments' conversations (another's
  is `NotFound` by id, and by recipient, as is opening a new one, `Forbidden`: a new
  conversation is routed nowhere, which they could not see);
- the channel must be able to send (`ChannelUnavailable`: disconnected, token invalid);
- a template the channel has stored must be active (`TemplateInactive` once the tenant
  deactivated it); one Parley has not stored is sent as given (the provider decides);
- the 24-hour customer service window (Meta's providers; Telegram has none): anything but
  a template needs the conversation's `window_expires_at` in the future
  (`OutsideServiceWindow`), by the `Clock` port; the window is the customer's on the
  channel, so a send by `to` after their conversation was resolved takes it from the
  conversation they last wrote in (and the new conversation starts with it); on a
  Messenger or Instagram channel allowed Meta's human-agent tag, 7 days after the
  customer's last message (`last_inbound_at`) instead;
- `reply_to` and a reaction's target: a message of the same conversation that the
  provider knows (`TargetNotSent` otherwise); a media `file_id`: one of the tenant's files;
- `idempotency_key`: the same key and the same draft give the same message (even under
  concurrent retries: a unique key claims it); another draft is `IdempotencyKeyReused`.

- the plan: the message takes one of the month's messages (402 `plan_limit_reached`
  when none is left; given back when the message cannot be stored or queued).

Then the message is stored `queued` (sender, type, content, the file's `media`), the
conversation's `last_message_at` (and `first_reply_at` on an agent's first answer) moves,
the send job is queued, and `message.created` and `conversation.updated` (or `.created`)
are published. If the job cannot be queued the message is removed and the
key released, so the client's retry starts clean.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from api.domain.clock import Clock
from api.domain.departments import current_department_scope
from api.domain.errors import Forbidden, NotFound
from api.domain.jobs import JobQueue
from api.domain.messaging.channels import (
    Channel,
    ChannelRepository,
    ChannelStatus,
    ChannelType,
    has_service_window,
    supports_templates,
)
from api.domain.messaging.contacts import (
    ChannelUserIdentity,
    Contact,
    ContactIdentityRepository,
    ContactRepository,
)
from api.domain.messaging.content import TemplateContent
from api.domain.messaging.conversations import (
    ContactSummary,
    Conversation,
    ConversationRepository,
)
from api.domain.messaging.errors import TemplateInactive, TemplatesNotSupported
from api.domain.messaging.messages import (
    Direction,
    MediaLink,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.messaging.outbound import (
    ChannelUnavailable,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IdempotencyKeys,
    IdempotencyRecord,
    MediaDraft,
    OutboundDraft,
    OutboundFiles,
    OutsideServiceWindow,
    ReactionDraft,
    TargetNotSent,
    draft_text,
)
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.messaging.templates import TemplateRepository
from api.domain.plans import LimitName
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.plan_gate import PlanGate
from api.usecases.messaging.contact_rules import identified_contact
from api.usecases.messaging.inbox_reads import MESSAGE_NOT_FOUND, existing_conversation
from api.usecases.messaging.rules import CHANNEL_NOT_FOUND
from api.usecases.messaging.sending_rules import (
    SEND_MESSAGE_JOB,
    SendPolicy,
    fingerprint,
    human_agent_allowed,
    provider_user_id,
    queued_recipient,
    recipient_identity,
    stored_content,
    window_end,
)
from api.usecases.messaging.template_rules import TEMPLATE_INACTIVE

FILE_NOT_FOUND = "File not found."
OUTSIDE_DEPARTMENTS = (
    "You can only write in conversations routed to your departments: this recipient has "
    "none of them open."
)
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Queued:
    message: Message
    created: bool  # False: an earlier request with the same idempotency key made it
    # The conversation as it was found before the message was stored (None: the message
    # opened it, or an earlier request made the message)
    conversation: Conversation | None = None


@dataclass(frozen=True)
class _Target:
    channel: Channel
    conversation: Conversation | None  # None: a new contact or conversation, made on queue
    contact_summary: ContactSummary | None = None
    # Without an unresolved conversation: the one the customer last wrote in (their window)
    last_written: Conversation | None = None


class QueueOutboundMessage:
    def __init__(
        self,
        channels: ChannelRepository,
        contacts: ContactRepository,
        identities: ContactIdentityRepository,
        conversations: ConversationRepository,
        messages: MessageRepository,
        keys: IdempotencyKeys,
        files: OutboundFiles,
        jobs: JobQueue,
        clock: Clock,
        policy: SendPolicy,
        events: InboxEvents,
        templates: TemplateRepository,
        gate: PlanGate,
    ) -> None:
        self._gate = gate
        self._events = events
        self._templates = templates
        self._channels = channels
        self._contacts = contacts
        self._identities = identities
        self._conversations = conversations
        self._messages = messages
        self._keys = keys
        self._files = files
        self._jobs = jobs
        self._clock = clock
        self._policy = policy

    async def execute(
        self, draft: OutboundDraft, sender: MessageSender, *, idempotency_key: str | None = None
    ) -> Queued:
        digest = fingerprint(draft)
        if idempotency_key is not None:
            known = await self._keys.find(idempotency_key)
            if known is not None:
                return Queued(await self._replayed(known, digest), created=False)
        target = await self._target(draft)
        await self._check_template(draft, target.channel)
        self._check_window(draft, target.channel, target.conversation or target.last_written)
        resolved, media = await self._resolved(draft, target.conversation)
        message_id = self._messages.new_id()
        if idempotency_key is not None:
            record = IdempotencyRecord(
                key=idempotency_key, fingerprint=digest, message_id=message_id,
                created_at=self._clock.now(),
            )  # fmt: skip
            holder = await self._keys.claim(record)
            if holder.message_id != message_id:
                return Queued(await self._replayed(holder, digest), created=False)
        try:
            reservation = await self._gate.reserve(LimitName.MESSAGES_PER_MONTH, 1)
        except BaseException:
            if idempotency_key is not None:
                await self._keys.release(idempotency_key, message_id)
            raise
        try:
            message = await self._store(draft, sender, target, message_id, resolved, media)
            await self._jobs.enqueue(SEND_MESSAGE_JOB, message_id=message_id)
        except BaseException:
            await self._messages.discard(message_id)
            await self._gate.release(reservation)
            if idempotency_key is not None:
                await self._keys.release(idempotency_key, message_id)
            raise
        await self._publish(message, opened=target.conversation is None)
        return Queued(message, created=True, conversation=target.conversation)

    async def _publish(self, message: Message, *, opened: bool) -> None:
        """`message.created`, and the conversation it moved (`conversation.created` when
        this message opened it); best effort, after the change is stored."""
        await self._events.publish(InboxEvent.of_message(InboxEventType.MESSAGE_CREATED, message))
        conversation = await self._conversations.get(message.conversation_id)
        if conversation is not None:
            kind = (
                InboxEventType.CONVERSATION_CREATED if opened
                else InboxEventType.CONVERSATION_UPDATED
            )  # fmt: skip
            await self._events.publish(InboxEvent.of_conversation(kind, conversation))

    async def _target(self, draft: OutboundDraft) -> _Target:
        if draft.conversation_id is not None:
            conversation = await existing_conversation(self._conversations, draft.conversation_id)
            channel = await self._channel(conversation.channel_id)
            return _Target(channel, conversation)
        assert draft.channel_id is not None  # noqa: S101 - validated
        assert draft.to is not None  # noqa: S101 - validated
        channel = await self._channel(draft.channel_id)
        assert channel.id is not None  # noqa: S101 - stored
        contact = await self._recipient(channel, draft.to)
        if contact is None or contact.id is None:
            found = last_written = None
        else:
            found = await self._conversations.unresolved(channel.id, contact.id)
            last_written = (
                await self._conversations.last_written(channel.id, contact.id)
                if found is None else None
            )  # fmt: skip
        if found is None and current_department_scope() is not None:
            raise Forbidden(OUTSIDE_DEPARTMENTS)
        return _Target(channel, found, last_written=last_written)

    async def _recipient(self, channel: Channel, to: str) -> Contact | None:
        """The live contact `to` names on the channel, if any: on WhatsApp by number or
        BSUID (`recipient_identity`), elsewhere by the provider's user id on the channel's
        account (`InvalidRecipient` for a `to` the channel's type cannot take)."""
        assert channel.id is not None  # noqa: S101 - stored
        if channel.type is ChannelType.WHATSAPP:
            return await self._contacts.find(channel.id, recipient_identity(to))
        contact_id = await self._identities.contact_id_of(_user_key(channel, to))
        contact = await self._contacts.get(contact_id) if contact_id else None
        return contact if contact is not None and contact.deleted_at is None else None

    async def _channel(self, channel_id: str) -> Channel:
        channel = await self._channels.get(channel_id)
        if channel is None:
            raise NotFound(CHANNEL_NOT_FOUND)
        if channel.status is not ChannelStatus.ACTIVE:
            raise ChannelUnavailable(
                f"The channel cannot send ({channel.status.value}); fix it and try again."
            )
        return channel

    async def _check_template(self, draft: OutboundDraft, channel: Channel) -> None:
        if not isinstance(draft.content, TemplateContent) or channel.id is None:
            return
        if not supports_templates(channel.type):
            raise TemplatesNotSupported(
                f"A {channel.type.value} channel has no message templates: send a message."
            )
        content = draft.content
        stored = await self._templates.find(channel.id, content.name, content.language)
        if stored is not None and not stored.active:
            raise TemplateInactive(TEMPLATE_INACTIVE)

    def _check_window(
        self, draft: OutboundDraft, channel: Channel, conversation: Conversation | None
    ) -> None:
        if isinstance(draft.content, TemplateContent) or not has_service_window(channel.type):
            return
        expires = window_end(channel, conversation)
        if expires is None or expires <= self._clock.now():
            if human_agent_allowed(channel):
                raise OutsideServiceWindow(
                    "The customer has not written in the last 7 days: nothing may be sent "
                    "until they write again."
                )
            raise OutsideServiceWindow(
                "The customer has not written in the last 24 hours: only a template may "
                "be sent now."
            )

    async def _resolved(
        self, draft: OutboundDraft, conversation: Conversation | None
    ) -> tuple[dict[str, str], MediaLink | None]:
        resolved: dict[str, str] = {}
        media = None
        if isinstance(draft.content, MediaDraft) and draft.content.file_id is not None:
            media = await self._files.describe(draft.content.file_id)
            if media is None:
                raise NotFound(FILE_NOT_FOUND)
        if isinstance(draft.content, ReactionDraft):
            resolved["target_external_id"] = await self._target_external_id(
                draft.content.message_id, conversation, "reaction"
            )
        if draft.reply_to is not None:
            resolved["reply_to_external_id"] = await self._target_external_id(
                draft.reply_to, conversation, "reply_to"
            )
        return resolved, media

    async def _target_external_id(
        self, message_id: str, conversation: Conversation | None, what: str
    ) -> str:
        target = await self._messages.get(message_id)
        if target is None or conversation is None or target.conversation_id != conversation.id:
            raise NotFound(MESSAGE_NOT_FOUND)
        if target.external_id is None:
            raise TargetNotSent(f"The {what} message has not reached the channel yet.")
        return target.external_id

    async def _store(
        self,
        draft: OutboundDraft,
        sender: MessageSender,
        target: _Target,
        message_id: str,
        resolved: dict[str, str],
        media: MediaLink | None,
    ) -> Message:
        conversation = target.conversation or await self._open(draft, target.channel)
        assert conversation.id is not None  # noqa: S101 - stored
        assert target.channel.id is not None  # noqa: S101 - stored
        now = stored_now()
        reply_external = resolved.pop("reply_to_external_id", None)
        message, _ = await self._messages.add_once(
            Message(
                id=message_id, conversation_id=conversation.id, channel_id=target.channel.id,
                contact_id=conversation.contact.id, direction=Direction.OUTBOUND,
                type=draft.type, text=draft_text(draft.content),
                content=stored_content(draft, **resolved), media=media,
                reply_to_id=draft.reply_to if reply_external else None,
                reply_to_external_id=reply_external, sender=sender,
                status=MessageStatus.QUEUED, status_timestamps={"queued": now}, created_at=now,
                recipient=queued_recipient(target.channel, conversation.contact),
            )
        )  # fmt: skip
        await self._conversations.record_outbound(
            conversation.id, now, reply=sender.type is SenderType.AGENT, seen=conversation
        )
        return message

    async def _open(self, draft: OutboundDraft, channel: Channel) -> Conversation:
        assert draft.to is not None  # noqa: S101 - by channel
        channel_id = channel.id
        assert channel_id is not None  # noqa: S101 - stored
        if channel.type is ChannelType.WHATSAPP:
            contact = await self._contacts.ensure(channel_id, recipient_identity(draft.to))
        else:
            contact = await identified_contact(
                self._identities, _user_key(channel, draft.to),
                lambda contact_id: self._contacts.ensure_by_id(contact_id, channel_id),
            )  # fmt: skip
        assert contact.id is not None  # noqa: S101 - stored
        summary = ContactSummary(
            id=contact.id, name=contact.name, phone=contact.phone, wa_id=contact.wa_id,
            bsuid=contact.bsuid,
        )  # fmt: skip
        return await self._conversations.open_outbound(channel_id, channel.type, summary)

    async def _replayed(self, record: IdempotencyRecord, digest: str) -> Message:
        """The message an earlier request with this key made (waiting briefly while that
        request is still storing it)."""
        if record.fingerprint != digest:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with another request; use a new key."
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.idempotency_wait_seconds
        while True:
            message = await self._messages.get(record.message_id)
            if message is not None:
                return message
            if loop.time() >= deadline or await self._keys.find(record.key) is None:
                raise IdempotencyKeyInProgress(
                    "A request with this Idempotency-Key is being processed; retry shortly."
                )
            await asyncio.sleep(_POLL_SECONDS)


def _user_key(channel: Channel, to: str) -> ChannelUserIdentity:
    """The identity `to` names on a Telegram, Messenger or Instagram channel."""
    return ChannelUserIdentity(
        channel_type=channel.type,
        account_id=channel.account_id,
        user_id=provider_user_id(channel.type, to),
    )
