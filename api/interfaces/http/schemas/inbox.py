"""The shared inbox's answers: conversations and messages (API.md's shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import (
    Conversation,
    ConversationPage,
    ConversationStatus,
    HandledBy,
    Priority,
)
from api.domain.messaging.messages import (
    Direction,
    MediaLink,
    Message,
    MessageError,
    MessagePage,
    MessageSender,
    MessageStatus,
)

CURSOR_NOTE = "`null` on the last page; else pass it as `cursor` for the next one."


class InboxConversationContactOut(BaseModel):
    id: str
    name: str | None
    phone: str | None = Field(description="E.164; null for a customer known by username only")
    wa_id: str | None
    bsuid: str | None = Field(description="WhatsApp's business-scoped user id")


class InboxConversationOut(BaseModel):
    id: str
    channel_id: str
    channel_type: ChannelType
    contact: InboxConversationContactOut
    status: ConversationStatus
    priority: Priority
    assignee_id: str | None
    team_id: str | None
    department_id: str | None = Field(description="The department it is routed to, if any.")
    handled_by: HandledBy
    tags: list[str]
    unread_count: int
    last_message_at: datetime | None
    last_inbound_at: datetime | None = Field(
        description="The customer's last message on the channel: in this conversation, or, "
        "for one a business message opened, in the one they last wrote in."
    )
    window_expires_at: datetime | None = Field(
        description="The end of the 24-hour customer service window (last inbound + 24 h): "
        "the customer's on the channel, so a conversation a business message opened after "
        "a resolved one starts with it."
    )
    snoozed_until: datetime | None
    first_reply_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, conversation: Conversation) -> InboxConversationOut:
        return cls.model_validate(conversation.model_dump(exclude={"tenant_id"}))


class InboxConversationPageOut(BaseModel):
    items: list[InboxConversationOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: ConversationPage) -> InboxConversationPageOut:
        return cls(
            items=[InboxConversationOut.of(c) for c in page.items], next_cursor=page.next_cursor
        )


class InboxMessageOut(BaseModel):
    id: str
    conversation_id: str
    channel_id: str
    direction: Direction
    type: str = Field(description="text, image, video, audio, voice, document, sticker, ...")
    text: str | None
    content: dict[str, Any] = Field(description="What the type carries besides its text.")
    media: MediaLink | None = Field(description="The copy in Parley's storage, once made.")
    reply_to_id: str | None
    private: bool
    sender: MessageSender
    status: MessageStatus
    status_timestamps: dict[str, datetime] = Field(description="When each state was reached.")
    error: MessageError | None
    external_id: str | None = Field(description="The provider's id (WhatsApp's wamid).")
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> InboxMessageOut:
        return cls.model_validate(
            message.model_dump(
                exclude={"tenant_id", "contact_id", "reply_to_external_id", "pricing"}
            )
        )


class InboxMessagePageOut(BaseModel):
    items: list[InboxMessageOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: MessagePage) -> InboxMessagePageOut:
        return cls(items=[InboxMessageOut.of(m) for m in page.items], next_cursor=page.next_cursor)
