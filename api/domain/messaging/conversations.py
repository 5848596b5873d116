"""Conversations: the shared inbox's threads, one contact on one channel at a time.

An inbound message joins the contact's last unresolved conversation on its channel, or
opens a new one; at most one unresolved conversation exists per contact and channel (a
unique index over `active_key`, set while unresolved, decides under concurrency).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.messaging.channels import ChannelType

SERVICE_WINDOW = timedelta(hours=24)  # WhatsApp's customer service window


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class HandledBy(StrEnum):
    HUMAN = "human"
    BOT = "bot"


class ContactSummary(BaseModel):
    """The contact as a conversation shows it (refreshed on every inbound message)."""

    id: str
    name: str | None = None
    phone: str | None = None
    wa_id: str | None = None
    bsuid: str | None = None


class Conversation(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    channel_id: str
    channel_type: ChannelType
    contact: ContactSummary
    status: ConversationStatus = ConversationStatus.OPEN
    priority: Priority = Priority.NORMAL
    assignee_id: str | None = None
    team_id: str | None = None
    department_id: str | None = None  # the department it is routed to (CRM)
    handled_by: HandledBy = HandledBy.HUMAN
    tags: list[str] = Field(default_factory=list)
    unread_count: int = 0
    last_message_at: datetime | None = None
    last_inbound_at: datetime | None = None
    window_expires_at: datetime | None = None
    snoozed_until: datetime | None = None
    first_reply_at: datetime | None = None
    first_inbound_at: datetime | None = None  # the customer's first message
    first_response_at: datetime | None = None  # the first agent reply after it
    resolved_at: datetime | None = None  # the last resolution (none while unresolved)
    resolved_by: str | None = None
    created_at: datetime
    updated_at: datetime


class ConversationPage(BaseModel):
    items: list[Conversation]
    next_cursor: str | None = None


class ConversationQuery(BaseModel):
    """What narrows the conversation list; None (or False) narrows nothing. `text` is a
    piece of the contact's name (any case) or of its phone number (digits, whatever the
    punctuation)."""

    status: ConversationStatus | None = None
    channel_id: str | None = None
    channel_type: ChannelType | None = None
    assignee_id: str | None = None
    unassigned: bool = False
    team_id: str | None = None
    department_id: str | None = None
    tag: str | None = None
    text: str | None = None


class DueSnooze(BaseModel):
    """A snoozed conversation whose time has come, in whichever tenant."""

    tenant_id: str
    conversation_id: str


class SnoozeAlarms(Protocol):
    """The one cross-tenant read of conversations: the snoozed ones that are due, for the
    periodic job that wakes them (each is then woken within its own tenant)."""

    async def due(self, at: datetime, limit: int) -> list[DueSnooze]:
        """At most `limit` conversations snoozed until `at` or earlier, earliest first."""
        ...


class ConversationRepository(Protocol):
    """Conversations of the current tenant."""

    async def join_inbound(
        self,
        channel_id: str,
        channel_type: ChannelType,
        contact: ContactSummary,
        at: datetime,
        *,
        bot: bool = False,
    ) -> tuple[Conversation, bool]:
        """The contact's unresolved conversation on the channel (a new open one when none;
        with `bot`, a new one is handled by the bot and `pending` for agents),
        `last_message_at`/`last_inbound_at` moved to `at` (never back), `first_inbound_at`
        to `at` when earlier or unset, and the window
        re-opened until `at` + 24 h; and whether it was opened now. Atomic under
        concurrency: one unresolved conversation per contact and channel. (Idempotent:
        the unread count grows only by `note_inbound`, once the message is new.)"""
        ...

    async def active(self, channel_id: str, contact_id: str) -> Conversation | None:
        """The contact's unresolved conversation on the channel, if any (a read)."""
        ...

    async def note_inbound(
        self,
        conversation_id: str,
        channel_type: ChannelType,
        contact: ContactSummary | None,
        at: datetime,
        *,
        unread: bool,
    ) -> Conversation | None:
        """A customer's message at `at` in this conversation, in one atomic update: the
        activity and the window moved as `join_inbound` moves them (never back), the
        contact's summary refreshed when given, and with `unread` one more unread message;
        the conversation after it (None when it is gone)."""
        ...

    async def get(self, conversation_id: str) -> Conversation | None: ...

    async def erase_contact(self, contact_id: str) -> list[str]:
        """Blank the contact's summary (name, number, ids) in each of its conversations;
        their ids."""
        ...

    async def unresolved(self, channel_id: str, contact_id: str) -> Conversation | None:
        """The contact's unresolved conversation on the channel, if any."""
        ...

    async def last_written(self, channel_id: str, contact_id: str) -> Conversation | None:
        """The contact's conversation on the channel that the customer wrote in last,
        resolved or not (the one that holds their service window), if any."""
        ...

    async def open_outbound(
        self, channel_id: str, channel_type: ChannelType, contact: ContactSummary
    ) -> Conversation:
        """The contact's unresolved conversation on the channel, a new open one when none
        (no unread message). The service window is the customer's on the channel, not a
        conversation's: a new one starts with the window (`last_inbound_at`,
        `window_expires_at`) of `last_written`, none when the customer never wrote.
        Atomic."""
        ...

    async def record_outbound(
        self, conversation_id: str, at: datetime, *, reply: bool, seen: Conversation | None = None
    ) -> None:
        """An outbound message at `at`: `last_message_at` moves forward (never back); with
        `reply` (an agent's answer) `first_reply_at` is set unless it already is, and
        `first_response_at` too when the customer has written (`first_inbound_at`) and it
        is unset: one conditional update each, so only the first reply counts. `seen`: the
        conversation as read before; a first time it shows set is not tried again."""
        ...

    async def mark_read(self, conversation_id: str) -> bool:
        """`unread_count` to 0; False when the conversation is not the tenant's."""
        ...

    async def search(
        self, query: ConversationQuery, *, cursor: str | None, limit: int
    ) -> ConversationPage:
        """Newest activity first (`last_message_at`, then id); `cursor` from a previous
        page of the same query (an unreadable cursor is `InvalidInput`)."""
        ...

    # The inbox's actions. Each is one atomic update of one conversation, stamps
    # `updated_at`, and answers the conversation as it is afterwards, or None when no
    # conversation of the tenant has this id (or, for the conditional ones, when the
    # condition did not hold: the caller reads it again to tell which).

    async def assign(
        self, conversation_id: str, *, assignee_id: str | None, team_id: str | None, team: bool
    ) -> Conversation | None:
        """Set the assignee (None: unassigned) and, when `team` is true, the team."""
        ...

    async def assign_if_free(self, conversation_id: str, assignee_id: str) -> Conversation | None:
        """Give it to `assignee_id` only if it is unassigned (or theirs already): of two
        racing claims, one wins."""
        ...

    async def resolve(
        self, conversation_id: str, *, at: datetime, by: str | None
    ) -> Conversation | None:
        """Status `resolved`, no snooze, `resolved_at`/`resolved_by` recorded; it stops
        being the contact's unresolved conversation on its channel, so the next inbound
        message opens a new one."""
        ...

    async def reopen(self, conversation_id: str) -> Conversation | None:
        """Status `open`, no snooze, no `resolved_at`/`resolved_by`; a resolved one is the
        contact's unresolved conversation again (`Conflict` when the contact has another
        on the channel)."""
        ...

    async def snooze(self, conversation_id: str, until: datetime) -> Conversation | None:
        """Status `snoozed` until `until`, only if unresolved."""
        ...

    async def wake(self, conversation_id: str, *, due_by: datetime | None) -> Conversation | None:
        """Status `open`, no snooze, only if snoozed (and, with `due_by`, until then at
        the latest)."""
        ...

    async def set_tags(self, conversation_id: str, tags: list[str]) -> Conversation | None: ...

    async def set_priority(
        self, conversation_id: str, priority: Priority
    ) -> Conversation | None: ...

    async def set_department(
        self, conversation_id: str, department_id: str | None
    ) -> Conversation | None:
        """Route it to `department_id` (None: to no department)."""
        ...

    async def clear_team(self, team_id: str) -> int:
        """Take the team off every conversation that names it; how many did."""
        ...

    async def assign_if_unassigned(
        self, conversation_id: str, assignee_id: str
    ) -> Conversation | None:
        """Give an unresolved, unassigned conversation to `assignee_id`: the conversation as
        changed, or None when it has an assignee already (or is resolved, or missing)."""
        ...

    async def hand_over(self, conversation_id: str, to: HandledBy) -> Conversation | None:
        """Give an unresolved conversation handled by the other side to `to`: to humans it
        becomes `open`; to the bot `pending` and unassigned. None when it is not the
        tenant's, resolved, or already handled by `to` (of two racing handovers, one
        wins)."""
        ...

    async def unresolved_load(self, assignee_ids: list[str]) -> dict[str, int]:
        """How many unresolved conversations each of `assignee_ids` holds (absent: 0)."""
        ...
