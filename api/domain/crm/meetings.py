"""Meetings of the CRM: with a contact (and maybe a lead), owned by one of the tenant's
users, optionally routed to a department, with reminders at offsets before the start.

- Times are aware instants kept in UTC; `timezone` (an IANA name, optional) is the zone
  the meeting is shown in (the tenant's zone when it has none).
- The lifecycle is a state machine (`TRANSITIONS`): `proposed` -> `confirmed` or
  `rescheduled` or `cancelled`; `confirmed` -> `rescheduled`, `cancelled`, `completed`,
  `no_show`; `rescheduled` (new times, to be confirmed again) -> `confirmed`,
  `rescheduled`, `cancelled`; `cancelled`, `completed` and `no_show` are final.
- Every change of the times bumps `schedule_version`; reminders are keyed by (meeting,
  offset, schedule version), so a reschedule plans new ones and the old ones are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import Conflict, InvalidInput

MAX_REMINDERS = 5
MAX_REMINDER_MINUTES = 4 * 7 * 24 * 60  # four weeks
MAX_DURATION = timedelta(days=7)


class MeetingStatus(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


_P, _C, _R = MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED, MeetingStatus.RESCHEDULED
_X, _D, _N = MeetingStatus.CANCELLED, MeetingStatus.COMPLETED, MeetingStatus.NO_SHOW
TRANSITIONS: dict[MeetingStatus, frozenset[MeetingStatus]] = {
    _P: frozenset({_C, _R, _X}),
    _C: frozenset({_R, _X, _D, _N}),
    _R: frozenset({_C, _R, _X}),
    _X: frozenset(),
    _D: frozenset(),
    _N: frozenset(),
}
# Statuses whose meeting is still ahead: reminders are sent for these only.
UPCOMING = frozenset({MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED, MeetingStatus.RESCHEDULED})
# Statuses that are reached only once the meeting has started.
AFTER_START = frozenset({MeetingStatus.COMPLETED, MeetingStatus.NO_SHOW})


def allowed_from(target: MeetingStatus) -> list[MeetingStatus]:
    """The statuses a meeting may move to `target` from."""
    return [status for status, nexts in TRANSITIONS.items() if target in nexts]


ReminderParameter = Literal["contact_name", "title", "starts_at_local", "location", "owner_name"]


class ReminderTemplate(BaseModel):
    """The approved WhatsApp template a meeting's reminders are sent with: its `name` and
    `language`, the channel to send from (None: the contact's own channel, else the
    tenant's first active WhatsApp channel), and what fills the body's `{{1}}`, `{{2}}`..."""

    model_config = ConfigDict(frozen=True)
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15)
    channel_id: str | None = Field(default=None, min_length=1, max_length=64)
    body_parameters: list[ReminderParameter] = Field(default_factory=list, max_length=10)


class Meeting(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    lead_id: str | None = None
    contact_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str | None = None
    location: str | None = None
    status: MeetingStatus = MeetingStatus.PROPOSED
    owner_id: str
    department_id: str | None = None
    reminders: list[int] = Field(default_factory=list)
    reminder_template: ReminderTemplate | None = None
    schedule_version: int = 1
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class MeetingQuery(BaseModel):
    """List filters: each given one must match; `starts_from`/`starts_before` bound the
    start (inclusive / exclusive)."""

    owner_id: str | None = None
    status: MeetingStatus | None = None
    contact_id: str | None = None
    lead_id: str | None = None
    department_id: str | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None


class MeetingPage(BaseModel):
    items: list[Meeting]
    next_cursor: str | None = None


class ReminderState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # due while the beat was down, and the meeting had started


class Reminder(BaseModel):
    """One reminder of one meeting at one offset for one version of its schedule."""

    id: str | None = None
    tenant_id: str
    meeting_id: str
    offset_minutes: int
    version: int
    due_at: datetime
    state: ReminderState = ReminderState.PENDING
    lease_until: datetime | None = None
    email_done: bool = False
    whatsapp_done: bool = False
    sent_at: datetime | None = None
    note: str | None = None


# --- errors ------------------------------------------------------------------------------


class MeetingStateConflict(Conflict):
    """The meeting's status does not allow this change (see the lifecycle)."""

    code = "meeting_state_conflict"
    title = "Meeting state conflict"


class MeetingOverlap(Conflict):
    """The owner already has a meeting (not cancelled) at an overlapping time."""

    code = "meeting_overlap"
    title = "Meeting overlap"


class InvalidMeeting(InvalidInput):
    """Times, time zone, reminders or references that cannot make a meeting."""

    code = "invalid_meeting"
    title = "Invalid meeting"


# --- pure rules --------------------------------------------------------------------------


def check_transition(current: MeetingStatus, target: MeetingStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise MeetingStateConflict(f"A {current.value} meeting cannot become {target.value}.")


def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(at: datetime, zone: str) -> datetime:
    """`at` as the wall time (with its offset) in `zone`."""
    return at.astimezone(zone_of(zone))


def due_times(
    starts_at: datetime, offsets: Sequence[int], *, now: datetime
) -> list[tuple[int, datetime]]:
    """(offset, due time) of the reminders still ahead: one due before `now` would be
    late (the meeting was planned or moved inside that offset) and is not planned."""
    planned = [(minutes, starts_at - timedelta(minutes=minutes)) for minutes in offsets]
    return [(minutes, due) for minutes, due in planned if due > now]


# --- ports -------------------------------------------------------------------------------


class MeetingRepository(Protocol):
    """Meetings of the current tenant (and of the current department scope)."""

    async def add(self, meeting: Meeting) -> Meeting: ...

    async def get(self, meeting_id: str) -> Meeting | None:
        """In the caller's department scope (outside it: None)."""
        ...

    async def get_for_job(self, meeting_id: str) -> Meeting | None:
        """In the current tenant, whatever the department scope (the reminder job)."""
        ...

    async def change(
        self,
        meeting_id: str,
        changes: dict[str, object],
        *,
        statuses: Sequence[MeetingStatus],
        version: int | None = None,
        bump_version: bool = False,
    ) -> Meeting | None:
        """Set `changes` when the meeting is in one of `statuses` (and at schedule
        `version`, when given), atomically; `bump_version` adds one to the schedule
        version. None when it did not match (gone, or changed meanwhile)."""
        ...

    async def overlapping(
        self, owner_id: str, starts_at: datetime, ends_at: datetime, *, excluding: str | None
    ) -> Meeting | None:
        """A meeting of `owner_id` that is not cancelled and overlaps [starts_at, ends_at),
        in any department of the tenant."""
        ...

    async def search(self, query: MeetingQuery, *, cursor: str | None, limit: int) -> MeetingPage:
        """By start time, earliest first; `cursor` from the previous page."""
        ...


class OwnerCalendarLock(Protocol):
    """Serialises the changes of one owner's calendar across processes (a lease)."""

    def hold(self, owner_id: str) -> AbstractAsyncContextManager[None]:
        """Entered once the owner's calendar is held (`ServiceUnavailable` when it could
        not be taken in time); released on exit (or when its lease runs out)."""
        ...


class ReminderRepository(Protocol):
    async def plan(self, meeting: Meeting, planned: Sequence[tuple[int, datetime]]) -> int:
        """Store the pending reminders of the meeting's current schedule version (one per
        offset: a second plan of the same key adds nothing); how many were new."""
        ...

    async def cancel_pending(
        self,
        meeting_id: str,
        *,
        keep_version: int | None = None,
        keep_offsets: Sequence[int] = (),
    ) -> int:
        """Cancel the meeting's pending reminders, except those of `keep_version` at one
        of `keep_offsets`; how many were cancelled."""
        ...  # fmt: skip

    async def of_meeting(self, meeting_id: str) -> list[Reminder]: ...

    async def due(self, now: datetime, limit: int) -> list[Reminder]:
        """Reminders of every tenant that are pending and due, or claimed and whose lease
        ran out (a crashed sender), earliest first (platform-level by design)."""
        ...

    async def claim(self, reminder: Reminder, now: datetime, lease_until: datetime) -> bool:
        """Take the reminder for sending, atomically: of concurrent claims one wins."""
        ...

    async def mark(self, reminder_id: str, changes: dict[str, object]) -> None: ...


class ContactCard(BaseModel):
    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class MeetingContacts(Protocol):
    """The contacts of the current tenant, as meetings read them."""

    async def get(self, contact_id: str) -> ContactCard | None: ...


class MeetingTimezone(Protocol):
    """The current tenant's zone (its company profile; UTC by default)."""

    async def current(self) -> str: ...


class ReminderMessenger(Protocol):
    """Queues a WhatsApp template message to a contact through the messaging outbound
    path (the CRM context does not import messaging's use cases)."""

    async def send_template(
        self,
        contact_id: str,
        template: ReminderTemplate,
        parameters: Sequence[str],
        *,
        owner_id: str,
        idempotency_key: str,
    ) -> bool:
        """Queue it once per key; False when the contact has no phone or no channel can
        send. Refusals of the sending path (inactive template...) are raised."""
        ...
