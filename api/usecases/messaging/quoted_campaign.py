"""A customer's reply that quotes a campaign's message brings that message into their
conversation, so the agent sees what they are answering.

Campaign sends are recipient rows, not inbox messages (a broadcast to thousands opens no
conversations). When a customer answers one by quoting it (a template's quick-reply
button, a swipe-reply: the provider names the quoted message's id), the message is looked
up among the campaign rows of the channel's tenant (by the provider id the row recorded)
and stored in the conversation the reply joins: an outbound message from sender
`campaign` (the campaign's id), with the content the row was sent with, its provider id,
its delivery status and timestamps, at the time it was sent. The reply then names it as
`reply_to_id` like any other quoted message. Storing it is idempotent (unique provider
id on the channel), so a redelivered or concurrent reply stores it once; later statuses
move both it and the row (`ApplyMessageStatus`). A quoted id that is no campaign's row of
this tenant and channel stores nothing.
"""

from __future__ import annotations

from typing import Any

from api.domain.messaging.campaigns import (
    Campaign,
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRepository,
    RecipientStatus,
    render,
)
from api.domain.messaging.content import TemplateContent
from api.domain.messaging.conversations import Conversation
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.messaging.outbound import MediaDraft, draft_text
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.messaging.templates import TemplateRepository
from api.usecases.messaging.campaign_sending_rules import (
    MessageTooLong,
    MissingVariable,
    plain_outbound_of,
    template_components,
)

# What a row's delivery state is as a message's (a row is only quoted once it was sent)
_STATUSES = {
    RecipientStatus.DELIVERED: MessageStatus.DELIVERED,
    RecipientStatus.READ: MessageStatus.READ,
}


class QuotedCampaignMessages:
    def __init__(
        self,
        recipients: CampaignRecipientRepository,
        campaigns: CampaignRepository,
        templates: TemplateRepository,
        messages: MessageRepository,
        events: InboxEvents,
    ) -> None:
        self._recipients = recipients
        self._campaigns = campaigns
        self._templates = templates
        self._messages = messages
        self._events = events

    async def into(self, conversation: Conversation, external_id: str) -> Message | None:
        """The campaign message with this provider id, stored in `conversation` (current
        tenant) when it is not yet; None when no campaign of the conversation's channel
        sent it."""
        assert conversation.id is not None  # noqa: S101 - stored
        row = await self._recipients.by_wamid(external_id)
        if row is None or row.sent_at is None:
            return None
        campaign = await self._campaigns.get(row.campaign_id)
        if campaign is None or campaign.id is None:
            return None
        if campaign.channel_id != conversation.channel_id:  # another number's message
            return None
        kind, text, content = await self._content(campaign, row)
        status = _STATUSES.get(row.status, MessageStatus.SENT)
        stamps = {"sent": row.sent_at, "delivered": row.delivered_at, "read": row.read_at}
        message, created = await self._messages.add_once(
            Message(
                conversation_id=conversation.id, channel_id=conversation.channel_id,
                contact_id=conversation.contact.id, direction=Direction.OUTBOUND, type=kind,
                text=text, content=content,
                sender=MessageSender(type=SenderType.CAMPAIGN, id=campaign.id), status=status,
                status_timestamps={k: at for k, at in stamps.items() if at is not None},
                external_id=external_id, created_at=row.sent_at,
            )
        )  # fmt: skip
        if created:
            await self._events.publish(
                InboxEvent.of_message(InboxEventType.MESSAGE_CREATED, message)
            )
        return message

    async def _content(
        self, campaign: Campaign, row: CampaignRecipient
    ) -> tuple[str, str | None, dict[str, Any]]:
        """(type, text, content) of what the row was sent: the template with the row's
        values (as an agent's template message keeps it), or the plain message's text,
        button or file. The campaign as it is now: one edited since shows its new text."""
        if campaign.template is not None:
            ref = campaign.template
            template = await self._templates.find(campaign.channel_id, ref.name, ref.language)
            try:
                components = template_components(template, row.variables) if template else []
            except MissingVariable:  # the template changed since: its name says enough
                components = []
            sent = TemplateContent(name=ref.name, language=ref.language, components=components)
            return "template", None, sent.model_dump(mode="json")
        plain = campaign.message
        assert plain is not None  # noqa: S101 - exactly one of template and message
        if plain.file_id is not None:
            try:
                caption = render(plain.text, row.variables) or None
            except KeyError:
                caption = plain.text or None
            draft = MediaDraft.model_validate({
                "media_kind": plain.media_kind or "document", "file_id": plain.file_id,
                "caption": caption, "filename": plain.filename,
            })  # fmt: skip
            return draft.media_kind.value, caption, draft.model_dump(mode="json", exclude_none=True)
        try:
            content = plain_outbound_of(row, plain, None, None).content
        except (MissingVariable, MessageTooLong):
            return "text", plain.text, {"kind": "text", "body": plain.text}
        return content.kind, draft_text(content), content.model_dump(mode="json")
