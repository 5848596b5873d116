"""CRM meetings: their repositories, the owners' calendar lock (Redis), the tenant's zone
(its company profile), and the two adapters through which the CRM context reaches
messaging without importing it: the contacts it reads and the WhatsApp reminders, queued
through the one outbound path (`QueueOutboundMessage`)."""

from __future__ import annotations

from collections.abc import Sequence

import punq

from api.config import Settings
from api.domain.crm.meetings import (
    ContactCard,
    MeetingContacts,
    MeetingRepository,
    MeetingTimezone,
    OwnerCalendarLock,
    ReminderMessenger,
    ReminderRepository,
    ReminderTemplate,
)
from api.domain.messaging.channels import ChannelRepository, ChannelStatus, ChannelType
from api.domain.messaging.contacts import ContactRepository
from api.domain.messaging.content import TemplateContent
from api.domain.messaging.messages import MessageSender, SenderType
from api.domain.messaging.outbound import OutboundDraft
from api.infrastructure.cache.meeting_calendar import RedisOwnerCalendarLock
from api.infrastructure.persistence.crm.meetings import (
    BeanieMeetingReminders,
    BeanieMeetingRepository,
)
from api.usecases.crm.meeting_reminders import ReminderPolicy
from api.usecases.messaging.queue_outbound_message import QueueOutboundMessage
from api.wiring.clients import Clients
from api.wiring.tenant_timezone import ProfileTimezone


class InboxMeetingContacts:
    """`MeetingContacts` adapter on the messaging context's contacts (deleted ones are
    not found)."""

    def __init__(self, contacts: ContactRepository) -> None:
        self._contacts = contacts

    async def get(self, contact_id: str) -> ContactCard | None:
        contact = await self._contacts.get(contact_id)
        if contact is None or contact.id is None or contact.deleted_at is not None:
            return None
        return ContactCard(id=contact.id, name=contact.name, email=contact.email,
                           phone=contact.phone)  # fmt: skip


class OutboundReminderMessenger:
    """`ReminderMessenger` adapter: nothing to a contact that opted out (or has no phone);
    else the template goes to the contact's phone from the template's channel, else the
    channel the contact wrote on, else the tenant's first active WhatsApp channel; sent as
    the meeting's owner (an agent message), through `QueueOutboundMessage` with the
    reminder's idempotency key."""

    def __init__(
        self, contacts: ContactRepository, channels: ChannelRepository, queue: QueueOutboundMessage
    ) -> None:
        self._contacts = contacts
        self._channels = channels
        self._queue = queue

    async def send_template(
        self,
        contact_id: str,
        template: ReminderTemplate,
        parameters: Sequence[str],
        *,
        owner_id: str,
        idempotency_key: str,
    ) -> bool:
        contact = await self._contacts.get(contact_id)
        if (
            contact is None
            or contact.deleted_at is not None
            or contact.opted_out
            or not contact.phone
        ):
            return False
        channel_id = template.channel_id or contact.channel_id or await self._first_channel()
        if channel_id is None:
            return False
        components = (
            [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}]
            if parameters else []
        )  # fmt: skip
        draft = OutboundDraft(
            channel_id=channel_id, to=contact.phone,
            content=TemplateContent(name=template.name, language=template.language,
                                    components=components),
        )  # fmt: skip
        await self._queue.execute(
            draft, MessageSender(type=SenderType.AGENT, id=owner_id),
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return True

    async def _first_channel(self) -> str | None:
        page = await self._channels.search(
            type=ChannelType.WHATSAPP, status=ChannelStatus.ACTIVE, skip=0, limit=1
        )
        return page.items[0].id if page.items else None


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(MeetingRepository, BeanieMeetingRepository)
    container.register(ReminderRepository, BeanieMeetingReminders)
    container.register(OwnerCalendarLock, instance=RedisOwnerCalendarLock(clients.redis))
    container.register(MeetingContacts, InboxMeetingContacts)
    container.register(MeetingTimezone, ProfileTimezone)
    container.register(ReminderMessenger, OutboundReminderMessenger)
    container.register(
        ReminderPolicy,
        instance=ReminderPolicy(
            batch=settings.meetings.reminder_batch,
            lease_seconds=settings.meetings.reminder_lease_seconds,
        ),
    )
