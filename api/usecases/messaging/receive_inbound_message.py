"""An inbound message becomes a message in the right conversation.

Called with one typed `MessageReceived` event and the channel it came to (the tenant is
the channel's). On WhatsApp the contact is upserted by `bsuid`, else `wa_id` (name,
username and ids refreshed); on the other providers by the provider's user id within the
channel's account (`ContactIdentityRepository`: Telegram's user id, Messenger's PSID,
Instagram's IGSID; a deleted contact's customer writing again gets a new contact). The
message joins the contact's unresolved conversation on the channel, or opens one; a
snoozed conversation the contact writes to wakes (status `open`). The same event again
stores nothing new (unique `(channel, external_id)`).

- `context` (a reply) resolves to Parley's id of the quoted message (`reply_to_id`); a
  quoted campaign message is stored in the conversation first (`QuotedCampaignMessages`).
- A reaction, an edit or a deletion is kept as its own message (type `reaction`, `edit`,
  `delete`, so the history shows it) and annotates its target when Parley has it:
  `content.reaction` (the emoji, null when removed), an edit replaces the target's `text`
  (`content.original_text` keeps the first one, `content.edited_at`), a deletion sets
  `content.deleted_at`.
- System messages `user_changed_number` / `user_changed_user_id` give the contact its new
  number or user id.
- `unsupported` (and any message carrying errors) keeps the provider's error.
- Media: a job copies the file into the tenant's storage at once (ids expire).
- Consent: a text that is exactly STOP, START or one of the tenant's keywords (company
  profile) opts the contact out or back in (source `keyword`), once per message.

Agents see it at once: `conversation.created` (or `.updated`), `message.created`, and
`message.updated` for a message a reaction, edit or deletion annotated. A conversation
opened now is then routed (`RouteInboundConversation`: auto-assignment), and a new
message outside business hours gets the out-of-hours reply.
"""

from __future__ import annotations

import logging

from api.common.clock import utcnow
from api.domain.jobs import JobQueue
from api.domain.messaging.bots import BOT_REPLY_JOB, ChannelBots
from api.domain.messaging.channels import Channel, ChannelType
from api.domain.messaging.contacts import (
    ChannelUserIdentity,
    Contact,
    ContactIdentity,
    ContactIdentityRepository,
    ContactRepository,
)
from api.domain.messaging.conversations import (
    ContactSummary,
    ConversationRepository,
    ConversationStatus,
    HandledBy,
)
from api.domain.messaging.events import MessageKind, MessageReceived
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.contact_rules import ContactConsent, identified_contact
from api.usecases.messaging.inbound_content import (
    COPY_MEDIA_JOB,
    message_content,
    message_error,
    message_text,
)
from api.usecases.messaging.quoted_campaign import QuotedCampaignMessages
from api.usecases.messaging.route_conversation import RouteInboundConversation

log = logging.getLogger(__name__)


class ReceiveInboundMessage:
    def __init__(
        self,
        contacts: ContactRepository,
        identities: ContactIdentityRepository,
        conversations: ConversationRepository,
        messages: MessageRepository,
        jobs: JobQueue,
        events: InboxEvents,
        consent: ContactConsent,
        routing: RouteInboundConversation,
        bots: ChannelBots,
        quoted_campaigns: QuotedCampaignMessages,
    ) -> None:
        self._quoted_campaigns = quoted_campaigns
        self._routing = routing
        self._bots = bots
        self._contacts = contacts
        self._identities = identities
        self._consent = consent
        self._conversations = conversations
        self._messages = messages
        self._jobs = jobs
        self._events = events

    async def execute(self, event: MessageReceived, channel: Channel) -> Message | None:
        """The stored message (the existing one for a repeated event); None when the event
        names no customer."""
        if channel.id is None or channel.tenant_id is None:
            raise ValueError("a stored channel is needed")
        with tenant_context(TenantId(channel.tenant_id)):
            return await self._receive(event, channel, channel.id)

    async def _receive(
        self, event: MessageReceived, channel: Channel, channel_id: str
    ) -> Message | None:
        existing = await self._messages.by_external_id(channel_id, event.external_id)
        if existing is not None:
            # A delivery again, or a run again after one stopped between storing the message
            # and noting it on its conversation: the activity and window are moved (never
            # back, so again is harmless); the unread count is not (it may be counted).
            await self._conversations.note_inbound(
                existing.conversation_id, channel.type, None, event.timestamp, unread=False
            )
            return existing
        sender = event.sender
        if sender.user_id is None and sender.phone is None:
            log.warning("inbound message %s names no customer; ignored", event.external_id)
            return None
        contact = await self._contact(event, channel, channel_id)
        if contact is None:
            log.warning("inbound message %s names no customer; ignored", event.external_id)
            return None
        assert contact.id is not None  # noqa: S101 - stored
        summary = ContactSummary(id=contact.id, name=contact.name, phone=contact.phone,
                                 wa_id=contact.wa_id, bsuid=contact.bsuid)  # fmt: skip
        # The unresolved conversation is read, and only opened when there is none; its
        # activity, window and unread count move in one update once the message is new
        # (below): one write of the conversation per message where there were two.
        conversation, opened = await self._conversations.active(channel_id, contact.id), False
        if conversation is None:
            conversation, opened = await self._conversations.join_inbound(
                channel_id, channel.type, summary, event.timestamp,
                bot=await self._bots.answers(channel_id),
            )  # fmt: skip
        assert conversation.id is not None  # noqa: S101 - stored
        if conversation.status is ConversationStatus.SNOOZED:  # the contact wrote: awake
            # (the conversation is read again below, once the message is new, for agents)
            await self._conversations.wake(conversation.id, due_by=None)
        reply_to = None
        if event.reply_to:
            reply_to = await self._messages.by_external_id(
                channel_id, event.reply_to
            ) or await self._quoted_campaigns.into(conversation, event.reply_to)
        message, created = await self._messages.add_once(
            Message(
                conversation_id=conversation.id, channel_id=channel_id, contact_id=contact.id,
                direction=Direction.INBOUND, type=event.kind.value, text=message_text(event),
                content=message_content(event),
                reply_to_id=reply_to.id if reply_to else None, reply_to_external_id=event.reply_to,
                sender=MessageSender(type=SenderType.CONTACT, id=contact.id),
                status=MessageStatus.RECEIVED, status_timestamps={"received": event.timestamp},
                error=message_error(event), external_id=event.external_id,
                created_at=event.timestamp,
            )
        )  # fmt: skip
        if created:
            conversation = (
                await self._conversations.note_inbound(
                    conversation.id, channel.type, summary, event.timestamp, unread=True
                )
                or conversation
            )
            await self._events.publish(InboxEvent.of_conversation(
                InboxEventType.CONVERSATION_CREATED if opened
                else InboxEventType.CONVERSATION_UPDATED, conversation,
            ))  # fmt: skip
            await self._events.publish(
                InboxEvent.of_message(InboxEventType.MESSAGE_CREATED, message)
            )
            await self._annotate_target(event, channel_id)
            if event.kind is MessageKind.TEXT and event.text:
                await self._consent.on_inbound_text(contact, event.text, event.timestamp)
            if event.media is not None and message.id is not None:
                await self._jobs.enqueue(COPY_MEDIA_JOB, message_id=message.id)
            if conversation.handled_by is HandledBy.BOT and message.id is not None:
                await self._jobs.enqueue(
                    BOT_REPLY_JOB, message_id=message.id, received_at=utcnow().timestamp()
                )
        if opened or created:  # whichever twin of a doubled delivery opened it: routed once
            await self._routing.execute(conversation, opened=opened, new_message=created)
        return message

    async def _contact(
        self, event: MessageReceived, channel: Channel, channel_id: str
    ) -> Contact | None:
        sender = event.sender
        if channel.type is ChannelType.WHATSAPP:
            await self._system_change(event, channel_id)
            identity = ContactIdentity(
                bsuid=_new_user_id(event) or sender.user_id,
                wa_id=_new_phone(event) or sender.phone,
                username=sender.username,
                name=sender.name,
            )
            return await self._contacts.upsert_inbound(
                channel_id, identity, event.timestamp, channel_type=channel.type
            )
        if sender.user_id is None:
            return None
        key = ChannelUserIdentity(
            channel_type=channel.type,
            account_id=channel.account_id,
            user_id=sender.user_id,
            username=sender.username,
        )
        refreshed = ContactIdentity(username=sender.username, name=sender.name)
        return await identified_contact(
            self._identities, key,
            lambda contact_id: self._contacts.upsert_inbound_by_id(
                contact_id, channel_id, refreshed, event.timestamp, channel_type=channel.type
            ),
        )  # fmt: skip

    async def _annotate_target(self, event: MessageReceived, channel_id: str) -> None:
        target_external = event.reaction.message_id if event.reaction else event.target_id
        if target_external is None:
            return
        target = await self._messages.by_external_id(channel_id, target_external)
        if target is None or target.id is None:
            return
        if event.kind is MessageKind.REACTION and event.reaction is not None:
            await self._messages.annotate(target.id, {"reaction": event.reaction.emoji})
        elif event.kind is MessageKind.EDIT:
            changes = {"text": message_text(event), "edited_at": event.timestamp}
            if "original_text" not in target.content:
                changes["original_text"] = target.text
            await self._messages.annotate(target.id, changes)
        elif event.kind is MessageKind.DELETE:
            await self._messages.annotate(target.id, {"deleted_at": event.timestamp})
        else:
            return
        annotated = await self._messages.get(target.id)
        if annotated is not None:
            await self._events.publish(
                InboxEvent.of_message(InboxEventType.MESSAGE_UPDATED, annotated)
            )

    async def _system_change(self, event: MessageReceived, channel_id: str) -> None:
        new_phone, new_user_id = _new_phone(event), _new_user_id(event)
        if new_phone or new_user_id:
            await self._contacts.change_identity(
                channel_id, bsuid=event.sender.user_id, wa_id=event.sender.phone,
                new_bsuid=new_user_id, new_wa_id=new_phone,
            )  # fmt: skip


def _new_phone(event: MessageReceived) -> str | None:
    return event.system.new_phone if event.system else None


def _new_user_id(event: MessageReceived) -> str | None:
    return event.system.new_user_id if event.system else None
