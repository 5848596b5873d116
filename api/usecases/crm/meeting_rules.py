"""What the meeting use cases share: the checks of a meeting's times, zone, reminders and
references, the owner's calendar (no overlap, under the owner's lock), reminder planning,
and the view with local wall times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.common.locales import is_timezone
from api.domain.clock import Clock
from api.domain.crm.meetings import (
    MAX_DURATION,
    MAX_REMINDER_MINUTES,
    MAX_REMINDERS,
    UPCOMING,
    InvalidMeeting,
    Meeting,
    MeetingContacts,
    MeetingOverlap,
    MeetingRepository,
    MeetingTimezone,
    OwnerCalendarLock,
    ReminderRepository,
    due_times,
    local_time,
)
from api.domain.departments import DepartmentNotFound, DepartmentRepository, in_department_scope
from api.domain.errors import FieldProblem, Forbidden, NotFound
from api.domain.identity.users import UserRepository
from api.usecases.kernel.clock import stored_time

MEETING_NOT_FOUND = "Meeting not found."


def _invalid(field: str, message: str) -> InvalidMeeting:
    return InvalidMeeting(message, [FieldProblem((field,), message)])


def check_times(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    """The times as stored (UTC, to the millisecond); the end after the start, at most a
    week later. Naive times never get here (the HTTP schema refuses them)."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise _invalid("starts_at", "times need a UTC offset")
    start = stored_time(starts_at.astimezone(UTC))
    end = stored_time(ends_at.astimezone(UTC))
    if end <= start:
        raise _invalid("ends_at", "ends_at must be after starts_at")
    if end - start > MAX_DURATION:
        raise _invalid("ends_at", "a meeting lasts at most 7 days")
    return start, end


def check_timezone(name: str | None) -> str | None:
    if name is not None and not is_timezone(name):
        raise _invalid("timezone", f"'{name}' is not an IANA time zone")
    return name


def check_reminders(offsets: list[int]) -> list[int]:
    """Distinct offsets (minutes before the start), largest first."""
    distinct = sorted(set(offsets), reverse=True)
    if len(distinct) > MAX_REMINDERS:
        raise _invalid("reminders", f"at most {MAX_REMINDERS} reminders")
    if any(not 0 <= m <= MAX_REMINDER_MINUTES for m in distinct):
        raise _invalid("reminders", f"minutes before the start, 0 to {MAX_REMINDER_MINUTES}")
    return distinct


@dataclass(frozen=True)
class MeetingView:
    """A meeting and the zone its local times are shown in (its own, else the tenant's)."""

    meeting: Meeting
    zone: str

    @property
    def starts_at_local(self) -> datetime:
        return local_time(self.meeting.starts_at, self.zone)

    @property
    def ends_at_local(self) -> datetime:
        return local_time(self.meeting.ends_at, self.zone)


class MeetingRules:
    """Checks needing I/O, shared by the meeting use cases."""

    def __init__(
        self,
        meetings: MeetingRepository,
        reminders: ReminderRepository,
        contacts: MeetingContacts,
        users: UserRepository,
        departments: DepartmentRepository,
        zones: MeetingTimezone,
        calendar: OwnerCalendarLock,
        clock: Clock,
    ) -> None:
        self.calendar = calendar
        self.meetings = meetings
        self.reminders = reminders
        self._contacts = contacts
        self._users = users
        self._departments = departments
        self._zones = zones
        self.clock = clock

    async def existing(self, meeting_id: str) -> Meeting:
        found = await self.meetings.get(meeting_id)
        if found is None:
            raise NotFound(MEETING_NOT_FOUND)
        return found

    async def check_contact(self, contact_id: str) -> None:
        if await self._contacts.get(contact_id) is None:
            raise _invalid("contact_id", "not a contact of this tenant")

    async def check_owner(self, owner_id: str) -> None:
        owner = await self._users.get(owner_id)
        if owner is None or not owner.is_active:
            raise _invalid("owner_id", "not an active user of this tenant")

    async def check_department(self, department_id: str | None) -> None:
        """An existing department the caller may route to (`Forbidden` outside their
        departments; a caller limited to departments must name one of them)."""
        if not in_department_scope(department_id):
            raise Forbidden("You can only put a meeting in a department you are a member of.")
        if department_id is not None and await self._departments.get(department_id) is None:
            raise DepartmentNotFound("Department not found.")

    async def check_free(
        self, owner_id: str, starts_at: datetime, ends_at: datetime, excluding: str | None = None
    ) -> None:
        """`MeetingOverlap` when the owner has another meeting (not cancelled) then. Call
        it while holding the owner's calendar lock."""
        other = await self.meetings.overlapping(owner_id, starts_at, ends_at, excluding=excluding)
        if other is not None:
            raise MeetingOverlap(
                f"The owner already has a meeting from {other.starts_at.isoformat()} to "
                f"{other.ends_at.isoformat()}."
            )

    async def plan_reminders(self, meeting: Meeting) -> None:
        """Plan the reminders of the meeting's current schedule, drop the others."""
        assert meeting.id is not None  # noqa: S101 - stored
        if meeting.status not in UPCOMING:
            await self.reminders.cancel_pending(meeting.id)
            return
        planned = due_times(meeting.starts_at, meeting.reminders, now=self.clock.now())
        await self.reminders.cancel_pending(
            meeting.id, keep_version=meeting.schedule_version,
            keep_offsets=[minutes for minutes, _ in planned],
        )  # fmt: skip
        await self.reminders.plan(meeting, planned)

    async def tenant_zone(self) -> str:
        return await self._zones.current()

    async def zone(self, meeting: Meeting) -> str:
        return meeting.timezone or await self._zones.current()

    async def view(self, meeting: Meeting) -> MeetingView:
        return MeetingView(meeting, await self.zone(meeting))
