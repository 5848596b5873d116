"""An echo of the business's own send (Messenger's and Instagram's `is_echo`).

Rules:
- an echo of a message Parley sent changes nothing: Parley knows it by its `mid`
  (`external_id`), or (Messenger) by the `tracker` its send carried back as `metadata`,
  whose message then gets the `mid` if the send's answer has not stored it yet;
- an echo that arrives while one of the conversation's Parley messages is still being
  sent (queued, no `mid` yet: the answer to its send is on the way) is retried later
  (`TemporaryFailure`), for at most `ECHO_GRACE` after it was sent, so that it is matched
  rather than stored twice;
- any other echo is a message sent from outside Parley (Meta's own inbox, another tool):
  it joins the customer's conversation on the channel (opened when none) as an outbound
  message with sender type `external`, status `sent`,
  once (unique `(channel, external_id)`), and agents see it (`message.created`); an echo
  to a customer Parley does not know (never wrote, or erased) is ignored.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from api.common.clock import utcnow
from api.domain.errors import TemporaryFailure
from api.domain.messaging.channels import Channel
from api.domain.messaging.contacts import (
    ChannelUserIdentity,
    Contact,
    ContactIdentityRepository,
    ContactRepository,
)
from api.domain.messaging.conversations import ContactSummary, ConversationRepository
from api.domain.messaging.events import MessageEchoed
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

log = logging.getLogger(__name__)
ECHO_GRACE = timedelta(minutes=2)
RECENT_MESSAGES = 20


class RecordEchoedMessage:
    def __init__(
        self,
        contacts: ContactRepository,
        identities: ContactIdentityRepository,
        conversations: ConversationRepository,
        messages: MessageRepository,
        events: InboxEvents,
    ) -> None:
        self._contacts = contacts
        self._identities = identities
        self._conversations = conversations
        self._messages = messages
        self._events = events

    async def execute(self, event: MessageEchoed, channel: Channel) -> Message | None:
        if channel.id is None or channel.tenant_id is None:
            raise ValueError("a stored channel is needed")
        with tenant_context(TenantId(channel.tenant_id)):
            return await self._record(event, channel, channel.id)

    async def _record(
        self, event: MessageEchoed, channel: Channel, channel_id: str
    ) -> Message | None:
        known = await self._messages.by_external_id(channel_id, event.external_id)
        if known is not None:
            return known
        if event.tracker:
            tracked = await self._messages.get(event.tracker)
            if (
                tracked is not None
                and tracked.id is not None
                and tracked.channel_id == channel_id
                and tracked.direction is Direction.OUTBOUND
            ):
                if tracked.external_id is None:
                    await self._messages.attach_external_id(
                        tracked.id, channel_id, event.external_id
                    )
                return tracked
        contact = await self._customer(event, channel)
        if contact is None or contact.id is None:
            log.info("echo %s: a customer Parley does not know; ignored", event.external_id)
            return None
        conversation = await self._conversations.open_outbound(
            channel_id,
            channel.type,
            ContactSummary(id=contact.id, name=contact.name, phone=contact.phone,
                           wa_id=contact.wa_id, bsuid=contact.bsuid),
        )  # fmt: skip
        assert conversation.id is not None  # noqa: S101 - stored
        if await self._sending_now(conversation.id) and utcnow() - event.timestamp < ECHO_GRACE:
            raise TemporaryFailure("A Parley send of this conversation awaits its answer.")
        reply_to = (
            await self._messages.by_external_id(channel_id, event.reply_to)
            if event.reply_to
            else None
        )
        content: dict[str, object] = {"origin": "echo"}
        if event.media is not None:
            content["media"] = event.media.model_dump(exclude_none=True)
        if event.app_id:
            content["app_id"] = event.app_id
        message, created = await self._messages.add_once(
            Message(
                conversation_id=conversation.id, channel_id=channel_id, contact_id=contact.id,
                direction=Direction.OUTBOUND, type=event.kind.value, text=event.text,
                content=content, reply_to_id=reply_to.id if reply_to else None,
                reply_to_external_id=event.reply_to,
                sender=MessageSender(type=SenderType.EXTERNAL),
                status=MessageStatus.SENT, status_timestamps={"sent": event.timestamp},
                external_id=event.external_id, created_at=event.timestamp,
            )
        )  # fmt: skip
        if created:
            await self._conversations.record_outbound(conversation.id, event.timestamp, reply=False)
            await self._events.publish(
                InboxEvent.of_message(InboxEventType.MESSAGE_CREATED, message)
            )
        return message

    async def _customer(self, event: MessageEchoed, channel: Channel) -> Contact | None:
        """The live contact the echo went to (by their user id on the channel's account);
        a customer Parley does not know is looked up only (no identity is allocated)."""
        if not event.recipient.user_id:
            return None
        contact_id = await self._identities.contact_id_of(
            ChannelUserIdentity(
                channel_type=channel.type,
                account_id=channel.account_id,
                user_id=event.recipient.user_id,
            )
        )
        if contact_id is None:
            return None
        contact = await self._contacts.get(contact_id)
        return contact if contact is not None and contact.deleted_at is None else None

    async def _sending_now(self, conversation_id: str) -> bool:
        recent = await self._messages.page(conversation_id, cursor=None, limit=RECENT_MESSAGES)
        return any(
            m.direction is Direction.OUTBOUND
            and not m.private
            and m.external_id is None
            and m.status is MessageStatus.QUEUED
            for m in recent.items
        )
