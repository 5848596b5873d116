"""Meetings' bodies and answers: times in, aware (with an offset; naive ones are 422);
times out, as UTC instants and as the wall time in the meeting's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.domain.crm.meetings import (
    MAX_REMINDER_MINUTES,
    MAX_REMINDERS,
    MeetingPage,
    MeetingStatus,
    ReminderTemplate,
)
from api.usecases.crm.meeting_rules import MeetingView
from api.usecases.crm.meetings import MeetingChanges, NewMeeting

Id = str
_ID = Field(min_length=1, max_length=64)
Reminders = list[Annotated[int, Field(ge=0, le=MAX_REMINDER_MINUTES)]]
_REMINDERS = (
    f"Minutes before the start at which reminders are sent (0 to {MAX_REMINDER_MINUTES}, at "
    f"most {MAX_REMINDERS}, each once): by email to the contact (when it has an address) and "
    "the owner, and by the `reminder_template` on WhatsApp when one is set."
)


class ReminderTemplateIn(ReminderTemplate):
    """An approved WhatsApp template for the reminders; `body_parameters` fill its body's
    `{{1}}`, `{{2}}`... in order (`contact_name`, `title`, `starts_at_local`, `location`,
    `owner_name`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: Id = _ID
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime = Field(description="With its UTC offset (naive times are 422).")
    ends_at: AwareDatetime = Field(description="After `starts_at`, at most 7 days later.")
    timezone: str | None = Field(
        default=None, max_length=64,
        description="IANA zone the meeting is shown in; none: the tenant's.",
    )  # fmt: skip
    location: str | None = Field(default=None, max_length=500)
    lead_id: Id | None = Field(default=None, min_length=1, max_length=64)
    owner_id: Id | None = Field(
        default=None, min_length=1, max_length=64,
        description="An active user of the tenant; none: the caller.",
    )  # fmt: skip
    department_id: Id | None = Field(default=None, min_length=1, max_length=64)
    reminders: Reminders = Field(default_factory=list, max_length=20, description=_REMINDERS)
    reminder_template: ReminderTemplateIn | None = None

    def to_new(self) -> NewMeeting:
        return NewMeeting.model_validate(self.model_dump())


class MeetingPatchIn(BaseModel):
    """Absent fields stay; null clears an optional one (`timezone`, `location`, `lead_id`,
    `department_id`, `reminder_template`). Times change through `reschedule`."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    contact_id: Id | None = Field(default=None, min_length=1, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, max_length=500)
    lead_id: Id | None = Field(default=None, min_length=1, max_length=64)
    owner_id: Id | None = Field(default=None, min_length=1, max_length=64)
    department_id: Id | None = Field(default=None, min_length=1, max_length=64)
    reminders: Reminders | None = Field(default=None, max_length=20, description=_REMINDERS)
    reminder_template: ReminderTemplateIn | None = None

    def to_changes(self) -> MeetingChanges:
        return MeetingChanges.model_validate(self.model_dump(exclude_unset=True))


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: str | None = Field(
        default=None, max_length=64, description="A new IANA zone; absent: unchanged."
    )


class MeetingOut(BaseModel):
    id: str
    lead_id: str | None
    contact_id: str
    title: str
    starts_at: datetime = Field(description="The start, UTC (with its offset).")
    ends_at: datetime
    timezone: str | None = Field(description="The meeting's own IANA zone, if any.")
    local_timezone: str = Field(description="The zone of the local times: its own or the tenant's.")
    starts_at_local: datetime = Field(description="The start as wall time in `local_timezone`.")
    ends_at_local: datetime
    location: str | None
    status: MeetingStatus
    owner_id: str
    department_id: str | None
    reminders: list[int]
    reminder_template: ReminderTemplate | None
    schedule_version: int = Field(description="Grows with every reschedule.")
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: MeetingView) -> MeetingOut:
        meeting = view.meeting
        return cls(
            id=meeting.id or "", local_timezone=view.zone,
            starts_at_local=view.starts_at_local, ends_at_local=view.ends_at_local,
            **meeting.model_dump(exclude={"id", "tenant_id"}),
        )  # fmt: skip


class MeetingPageOut(BaseModel):
    items: list[MeetingOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: MeetingPage, tenant_zone: str) -> MeetingPageOut:
        return cls(
            items=[MeetingOut.of(MeetingView(m, m.timezone or tenant_zone)) for m in page.items],
            next_cursor=page.next_cursor,
        )
