"""Messages of the shared inbox, inbound and outbound, and their delivery statuses.

Statuses only move forward: `queued < sent < delivered < read < played`; `failed` is
final. An inbound message is `received`. Each state reached keeps its timestamp (the
earliest reported), `failed` keeps the provider's error, and the pricing the provider
reports is kept. `(channel_id, external_id)` is unique: a redelivered inbound message
is never stored twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from api.domain.messaging.content import Recipient


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"


STATUS_RANK: dict[MessageStatus, int] = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.PLAYED: 5,
    MessageStatus.FAILED: 100,  # final: nothing moves a failed message
}


class SenderType(StrEnum):
    CONTACT = "contact"
    AGENT = "agent"
    BOT = "bot"
    CAMPAIGN = "campaign"
    EXTERNAL = "external"  # sent by the business from outside Parley (a provider's echo)


class MessageSender(BaseModel):
    type: SenderType
    id: str | None = None


class MediaLink(BaseModel):
    """The copy of a message's file in Parley's storage."""

    file_id: str
    content_type: str
    size: int
    filename: str


class MessageError(BaseModel):
    code: int | None = None
    title: str | None = None
    details: str | None = None


class Message(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    conversation_id: str
    channel_id: str
    contact_id: str | None = None
    direction: Direction
    type: str  # text, image, ..., reaction, unsupported (the inbound kinds), template, ...
    text: str | None = None
    content: dict[str, Any] = Field(default_factory=dict)
    media: MediaLink | None = None
    reply_to_id: str | None = None
    reply_to_external_id: str | None = None
    private: bool = False
    sender: MessageSender
    status: MessageStatus
    status_timestamps: dict[str, datetime] = Field(default_factory=dict)
    error: MessageError | None = None
    external_id: str | None = None
    pricing: dict[str, Any] | None = None
    created_at: datetime
    # An outbound message's recipient as its conversation named it when it was queued
    # (WhatsApp: the number, else the BSUID), so its send need not read the conversation;
    # None: the send reads it there.
    recipient: Recipient | None = None


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None = None


class StatusChange(BaseModel):
    """A delivery status the provider reported for one sent message."""

    channel_id: str
    external_id: str
    status: MessageStatus
    at: datetime
    error: MessageError | None = None
    pricing: dict[str, Any] | None = None


class SendClaim(BaseModel):
    """The answer to a send job's claim: the `message` when this run holds it; else
    `held_until`, when another run's claim runs out, or neither when the message is not
    sendable any more (sent, failed, gone, not outbound)."""

    message: Message | None = None
    held_until: datetime | None = None


class ClaimOutcome(StrEnum):
    NEW = "new"  # no claim was there: this run holds the message now
    TAKEN_OVER = "taken_over"  # one was there whose time had run out: this run holds it now
    HELD = "held"  # a live run holds it (until `held_until`)
    OTHER_TENANT = "other_tenant"  # the message's claim is another tenant's


class ClaimTake(BaseModel):
    """What `SendClaims.take` found, and `held_until` when a live run holds it."""

    outcome: ClaimOutcome
    held_until: datetime | None = None


class SendClaims(Protocol):
    """Send runs' claims on outbound messages, by message id and tenant, shared by every
    worker: a claim holds the message for one run until its `until`; a claim whose time
    ran out is taken over by the next run."""

    async def take(
        self, message_id: str, tenant_id: str, *, now: datetime, until: datetime
    ) -> ClaimTake:
        """Claim the message until `until`, atomically: anew, or taking over a claim
        whose time ran out by `now`; else say who holds it."""
        ...

    async def give_back(self, message_id: str, tenant_id: str) -> None:
        """The tenant's claim on the message ends now, if there is one."""
        ...

    async def end_after(self, message_id: str, tenant_id: str, seconds: float) -> None:
        """The tenant's claim on the message, if there is one, ends `seconds` from when
        this is stored, never sooner."""
        ...

    async def held(self, message_ids: list[str], *, now: datetime) -> set[str]:
        """Which of the messages (any tenant's) a claim holds at `now`."""
        ...


class MessageRepository(Protocol):
    """Messages of the current tenant."""

    async def add_once(self, message: Message) -> tuple[Message, bool]:
        """Store the message unless one with its `(channel_id, external_id)` exists;
        the stored message and whether it is new (atomic under redelivery)."""
        ...

    async def get(self, message_id: str) -> Message | None: ...

    def new_id(self) -> str:
        """A fresh id for a message about to be stored (`add_once` keeps a given id)."""
        ...

    async def discard(self, message_id: str) -> None:
        """Delete a queued message that could not be handed to its job."""
        ...

    async def attach_external_id(self, message_id: str, channel_id: str, external_id: str) -> bool:
        """Give an outbound message the provider's id once (never replaced); True when the
        message has this external id now."""
        ...

    async def fail(self, message_id: str, error: MessageError, at: datetime) -> bool:
        """Move the message to `failed` (final) with `error` and the state's timestamp,
        unless it failed already; True when it moved."""
        ...

    async def inbound_files(self, conversation_id: str) -> list[str]:
        """The stored files (ids) linked to the conversation's inbound messages."""
        ...

    async def erase_inbound(self, conversation_id: str) -> int:
        """Blank the text, content and file link of the conversation's inbound messages
        not blanked yet; how many."""
        ...

    async def last_inbound(self, conversation_id: str) -> Message | None:
        """The newest inbound message of the conversation that has a provider id."""
        ...

    async def by_external_id(self, channel_id: str, external_id: str) -> Message | None: ...

    async def annotate(self, message_id: str, changes: dict[str, Any]) -> None:
        """Set `content.<key>` (and `text` when given as key `text`) on the message."""
        ...

    async def claim_send(self, message_id: str, *, now: datetime, until: datetime) -> SendClaim:
        """Claim a queued outbound message (no provider id yet) for one run of the send
        job until `until`, atomically, and read it in the same step (a message failed
        meanwhile ends its claim, as `end_send`)."""
        ...

    async def release_send(self, message_id: str) -> None:
        """Give the claim up (the run failed in a way the job retries): it ends now."""
        ...

    def end_send(self, message_id: str) -> None:
        """The run stored the message's outcome (`mark_sent`): its claim holds nothing now
        and ends a moment later, in the background (nobody waits for it)."""
        ...

    async def mark_sent(self, message: Message, external_id: str, at: datetime) -> Message | None:
        """The provider accepted `message` (as its claim read it): give it `external_id`
        (once) and move it to `sent` (forward only: a status webhook may have moved it
        further already). The message after the move (the usual case: `message` with the
        change, not read again), or as stored now when a webhook got there first; None
        when it is gone. The claim is not ended here (`end_send` after it)."""
        ...

    async def apply_status(self, change: StatusChange) -> bool | None:
        """Move the message forward to `change.status` when it is further (a conditional
        update: never backwards, nothing after `failed`); record the state's timestamp
        (the earliest wins) and the pricing whatever the order. True when it moved,
        False when not, None when no message has this external id."""
        ...

    async def link_media(self, message_id: str, media: MediaLink) -> bool:
        """Link the stored copy of the message's file, unless it has one already or the
        message was erased (or is gone): False then."""
        ...

    async def page(self, conversation_id: str, *, cursor: str | None, limit: int) -> MessagePage:
        """Newest first; `cursor` from a previous page (unreadable: `InvalidInput`)."""
        ...


class MediaSink(Protocol):
    """Where a message's downloaded file goes: the tenant's file storage."""

    async def store(
        self,
        *,
        filename: str,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        owner_id: str,
    ) -> MediaLink:
        """Store the bytes (streamed) as one of the current tenant's files."""
        ...

    async def remove(self, file_id: str) -> bool:
        """Delete a message's stored file of the current tenant (its bytes, then its
        record); False when there is none (gone already, or not a message's file)."""
        ...
