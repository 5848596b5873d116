"""A delivery status from the provider moves a sent message forward, never back.

Called with one typed `StatusUpdated` event and the channel (the tenant is the
channel's). `sent < delivered < read < played`; `failed` is final and keeps the
provider's code, title and details. Each state's timestamp is kept (the earliest, also
for a state that arrives after a further one), and the pricing when the provider sends
it. A status for a message Parley does not know (sent elsewhere, or deleted) changes
nothing and is no error; `deleted` (the customer deleted our message) is not a delivery
state and is ignored here. A status naming Parley's message id as its tracker (what the
send job passes) finds its message even before the send job stored the provider's id.
A message that moved is published as `message.updated`.
A message that failed with 131050 (the customer stopped marketing messages) opts its
contact out (source `provider`).

A status for no inbox message goes to the campaigns' recipient rows of the channel's
tenant (never another's), and so does one for a campaign message that a customer's
reply brought into their conversation (`QuotedCampaignMessages`: both move): the row
with this wamid moves forward the same way, or, when the status names a row by its
tracker before the row got its wamid (the send's answer was not recorded yet, or its
worker died), that row gets the wamid and moves. A row failed with 131050 opts its
contact out; with 131049 it marks the contact for 24 hours.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from api.domain.messaging.campaign_sending import MarketingLimitMarks
from api.domain.messaging.campaigns import CampaignRecipientRepository, RecipientStatus
from api.domain.messaging.channels import Channel
from api.domain.messaging.events import DeliveryState, StatusUpdated
from api.domain.messaging.messages import (
    MessageError,
    MessageRepository,
    MessageStatus,
    SenderType,
    StatusChange,
)
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.campaign_sending_rules import (
    MARKETING_LIMITED,
    CampaignSendPolicy,
    recipient_of_tracker,
)
from api.usecases.messaging.contact_rules import MARKETING_OPTED_OUT, ContactConsent

log = logging.getLogger(__name__)


class StatusOutcome(StrEnum):
    MOVED = "moved"  # the message reached this state
    KEPT = "kept"  # it was already as far or further (timestamp and pricing recorded)
    UNKNOWN = "unknown"  # no message has this external id
    IGNORED = "ignored"  # not a delivery state


_ROW_STATES = {
    DeliveryState.SENT: RecipientStatus.SENT,
    DeliveryState.DELIVERED: RecipientStatus.DELIVERED,
    DeliveryState.READ: RecipientStatus.READ,
    DeliveryState.PLAYED: RecipientStatus.READ,
    DeliveryState.FAILED: RecipientStatus.FAILED,
}
_STATES = {
    DeliveryState.SENT: MessageStatus.SENT,
    DeliveryState.DELIVERED: MessageStatus.DELIVERED,
    DeliveryState.READ: MessageStatus.READ,
    DeliveryState.PLAYED: MessageStatus.PLAYED,
    DeliveryState.FAILED: MessageStatus.FAILED,
}


class ApplyMessageStatus:
    def __init__(
        self,
        messages: MessageRepository,
        events: InboxEvents,
        consent: ContactConsent,
        recipients: CampaignRecipientRepository,
        marks: MarketingLimitMarks,
        policy: CampaignSendPolicy,
    ) -> None:
        self._messages = messages
        self._events = events
        self._consent = consent
        self._recipients = recipients
        self._marks = marks
        self._policy = policy

    async def execute(self, event: StatusUpdated, channel: Channel) -> StatusOutcome:
        status = _STATES.get(event.state)
        if status is None or channel.id is None or channel.tenant_id is None:
            return StatusOutcome.IGNORED
        error = None
        if status is MessageStatus.FAILED and event.errors:
            first = event.errors[0]
            error = MessageError(code=first.code, title=first.title or first.message,
                                 details=first.details or first.message)  # fmt: skip
        pricing = event.pricing.model_dump(exclude_none=True) if event.pricing else None
        change = StatusChange(
            channel_id=channel.id, external_id=event.external_id, status=status,
            at=event.timestamp, error=error, pricing=pricing or None,
        )  # fmt: skip
        with tenant_context(TenantId(channel.tenant_id)):
            moved = await self._messages.apply_status(change)
            # Parley sends its message id as the tracker: a status that overtook the send
            # job's answer still finds its message, which gets its provider id.
            if (
                moved is None
                and event.tracker
                and await self._messages.attach_external_id(
                    event.tracker, channel.id, event.external_id
                )
            ):
                moved = await self._messages.apply_status(change)
            message = await self._messages.by_external_id(channel.id, event.external_id)
            if error is not None and error.code == MARKETING_OPTED_OUT and message is not None:
                await self._consent.marketing_refused(message.contact_id, event.timestamp)
            if moved is None and await self._campaign_row(event, error):
                return StatusOutcome.MOVED
            if message is not None and message.sender.type is SenderType.CAMPAIGN:
                await self._campaign_row(event, error)  # its row moves too (the stats')
        if moved and message is not None:
            await self._events.publish(
                InboxEvent.of_message(InboxEventType.MESSAGE_UPDATED, message)
            )
        if moved is None:
            log.info("status %s for an unknown message; ignored", event.state.value)
            return StatusOutcome.UNKNOWN
        return StatusOutcome.MOVED if moved else StatusOutcome.KEPT

    async def _campaign_row(self, event: StatusUpdated, error: MessageError | None) -> bool:
        """Move the campaign recipient row this status is for (in the current tenant)."""
        status = _ROW_STATES[event.state]
        code = str(error.code) if error is not None and error.code is not None else None
        failure = (code, error.title) if error is not None else None
        wamid, at = event.external_id, event.timestamp
        moved = await self._recipients.apply_status_by_wamid(wamid, status, at, failure)
        recipient_id = recipient_of_tracker(event.tracker)
        if not moved and recipient_id is not None:
            moved = await self._recipients.apply_status_by_tracker(
                recipient_id, wamid, status, at, failure
            )
        if moved and code in (str(MARKETING_OPTED_OUT), str(MARKETING_LIMITED)):
            row = await self._recipients.by_wamid(wamid)
            if row is not None and code == str(MARKETING_LIMITED):
                await self._marks.mark([row.contact_id], self._policy.marketing_limit_seconds)
            elif row is not None:
                await self._consent.marketing_refused(row.contact_id, event.timestamp)
        return moved
