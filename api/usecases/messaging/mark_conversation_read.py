"""An agent reads a conversation (`POST /conversations/{id}/read`): its unread count goes
to 0 and the customer gets a read receipt (blue ticks) for their last message, sent by a
job, optionally with the typing indicator."""

from __future__ import annotations

import logging

from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.messaging.channels import ChannelRepository, ChannelStatus, ChannelType
from api.domain.messaging.contacts import ContactIdentityRepository
from api.domain.messaging.conversations import Conversation, ConversationRepository
from api.domain.messaging.errors import ChannelPermanentFailure
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.messages import MessageRepository
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.messaging.inbox_reads import existing_conversation
from api.usecases.messaging.rules import provider_call
from api.usecases.messaging.sending_rules import READ_RECEIPT_JOB

log = logging.getLogger(__name__)


class MarkConversationRead:
    """`inbox:write`; another tenant's conversation is 404. The receipt names the newest
    inbound message the provider knows (none: only the count changes). Audited:
    `conversation.read`; published as `conversation.updated`."""

    def __init__(
        self,
        conversations: ConversationRepository,
        messages: MessageRepository,
        jobs: JobQueue,
        auditor: Auditor,
        events: InboxEvents,
    ) -> None:
        self._events = events
        self._conversations = conversations
        self._messages = messages
        self._jobs = jobs
        self._auditor = auditor

    async def execute(
        self, principal: Principal, conversation_id: str, *, typing: bool
    ) -> Conversation:
        """The conversation as it is now (read)."""
        require_permission(principal, Permission.INBOX_WRITE)
        conversation = await existing_conversation(self._conversations, conversation_id)
        assert conversation.id is not None  # noqa: S101 - stored
        await self._conversations.mark_read(conversation.id)
        last = await self._messages.last_inbound(conversation.id)
        if last is not None and last.id is not None:
            await self._jobs.enqueue(READ_RECEIPT_JOB, message_id=last.id, typing=typing)
        await self._auditor.record(
            "conversation.read", "conversation", conversation.id,
            actor_id=principal.user_id,
            changes=audit_extra(principal, {"unread_count": {"from": conversation.unread_count,
                                                             "to": 0}}),
        )  # fmt: skip
        read = await self._conversations.get(conversation.id) or conversation
        await self._events.publish(
            InboxEvent.of_conversation(InboxEventType.CONVERSATION_UPDATED, read)
        )
        return read


class SendReadReceipt:
    """The job's work: mark the inbound message read at the provider (with the typing
    indicator when asked): WhatsApp marks the message, Messenger and Instagram the
    customer's conversation (by their user id on the channel's account), Telegram has no
    read receipts. Transient failures are raised (retried); a refusal is logged,
    since a receipt is not worth failing anything for."""

    def __init__(
        self,
        messages: MessageRepository,
        channels: ChannelRepository,
        gateways: ChannelGateways,
        identities: ContactIdentityRepository,
    ) -> None:
        self._messages = messages
        self._channels = channels
        self._gateways = gateways
        self._identities = identities

    async def execute(self, message_id: str, *, typing: bool) -> bool:
        message = await self._messages.get(message_id)
        if message is None or message.external_id is None:
            return False
        channel = await self._channels.get(message.channel_id)
        if channel is None or channel.status is not ChannelStatus.ACTIVE:
            return False
        user_id = None  # WhatsApp marks the message; the others need the customer's id
        if channel.type is not ChannelType.WHATSAPP and message.contact_id is not None:
            user_id = await self._identities.user_id_on(
                message.contact_id, channel.type, channel.account_id
            )
        try:
            async with provider_call(self._channels, channel):  # 190: token_invalid
                await self._gateways.for_channel(channel).mark_read(
                    message.external_id, user_id=user_id, typing=typing
                )
        except ChannelPermanentFailure as exc:
            log.warning("read receipt for message %s refused: %s", message_id, exc.provider_code)
            return False
        return True
