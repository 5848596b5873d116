"""Meetings: created, read, listed, changed, rescheduled and moved through their lifecycle.

Rules (see api.domain.crm.meetings for the lifecycle):
- reading needs `crm:read`, changes `crm:write`; a meeting outside the caller's
  departments is 404; putting one in a department outside them is 403;
- times are aware (naive ones are refused by the HTTP schema), stored in UTC, the end
  after the start (at most 7 days); `timezone` is an IANA zone or none (the tenant's);
- the contact is one of the tenant's contacts, the owner an active user (default: the
  caller); reminders are 0 to 5 distinct offsets (minutes before the start);
- an owner's meetings that are not cancelled never overlap (409 `meeting_overlap`): the
  check and the write run under the owner's calendar lock, so of two concurrent requests
  for one owner and time exactly one wins;
- a status change outside the lifecycle is 409 `meeting_state_conflict`, and so is
  `completed`/`no_show` before the start; a reschedule sets new times, the status
  `rescheduled` and a new schedule version: the pending reminders of the old schedule are
  cancelled and those of the new one planned;
- every change is audited (`meeting.created`, `meeting.updated`, `meeting.rescheduled`,
  `meeting.confirmed`, `meeting.cancelled`, `meeting.completed`, `meeting.no_show`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.domain.crm.meetings import (
    AFTER_START,
    Meeting,
    MeetingPage,
    MeetingQuery,
    MeetingStateConflict,
    MeetingStatus,
    ReminderTemplate,
    allowed_from,
    check_transition,
)
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.crm.meeting_rules import (
    MeetingRules,
    MeetingView,
    check_reminders,
    check_times,
    check_timezone,
)
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now

CHANGED_MEANWHILE = "The meeting changed meanwhile; read it again and retry."


class NewMeeting(BaseModel):
    contact_id: str
    title: str = Field(min_length=1, max_length=200)
    starts_at: datetime
    ends_at: datetime
    timezone: str | None = None
    location: str | None = Field(default=None, max_length=500)
    lead_id: str | None = None
    owner_id: str | None = None
    department_id: str | None = None
    reminders: list[int] = Field(default_factory=list)
    reminder_template: ReminderTemplate | None = None


class MeetingChanges(BaseModel):
    """What a PATCH may change (the times only through a reschedule); fields left unset
    stay; `None` clears an optional one."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    contact_id: str | None = None
    timezone: str | None = None
    location: str | None = Field(default=None, max_length=500)
    lead_id: str | None = None
    owner_id: str | None = None
    department_id: str | None = None
    reminders: list[int] | None = None
    reminder_template: ReminderTemplate | None = None


def _audit_view(meeting: Meeting) -> dict[str, object]:
    return {
        "title": meeting.title, "contact_id": meeting.contact_id, "lead_id": meeting.lead_id,
        "owner_id": meeting.owner_id, "department_id": meeting.department_id,
        "starts_at": meeting.starts_at.isoformat(), "ends_at": meeting.ends_at.isoformat(),
        "timezone": meeting.timezone, "status": meeting.status.value,
        "reminders": meeting.reminders,
    }  # fmt: skip


class CreateMeeting:
    """Create a `proposed` meeting (`crm:write`) and plan its reminders."""

    def __init__(self, rules: MeetingRules, auditor: Auditor) -> None:
        self._rules = rules
        self._auditor = auditor

    async def execute(self, principal: Principal, new: NewMeeting) -> MeetingView:
        require_permission(principal, Permission.CRM_WRITE)
        starts_at, ends_at = check_times(new.starts_at, new.ends_at)
        owner_id = new.owner_id or principal.user_id
        await self._rules.check_department(new.department_id)
        await self._rules.check_contact(new.contact_id)
        await self._rules.check_owner(owner_id)
        now = stored_now()
        meeting = Meeting(
            lead_id=new.lead_id, contact_id=new.contact_id, title=new.title.strip(),
            starts_at=starts_at, ends_at=ends_at, timezone=check_timezone(new.timezone),
            location=new.location, owner_id=owner_id, department_id=new.department_id,
            reminders=check_reminders(new.reminders), reminder_template=new.reminder_template,
            created_by=principal.user_id, created_at=now, updated_at=now,
        )  # fmt: skip
        async with self._rules.calendar.hold(owner_id):
            await self._rules.check_free(owner_id, starts_at, ends_at)
            meeting = await self._rules.meetings.add(meeting)
        await self._rules.plan_reminders(meeting)
        await self._auditor.record(
            "meeting.created", "meeting", meeting.id, actor_id=principal.user_id,
            changes=audit_extra(principal, _audit_view(meeting)),
        )  # fmt: skip
        return await self._rules.view(meeting)


class UpdateMeeting:
    """Change a meeting's details (`crm:write`); a final meeting (cancelled, completed,
    no-show) cannot change. A new owner must be free at the meeting's time."""

    def __init__(self, rules: MeetingRules, auditor: Auditor) -> None:
        self._rules = rules
        self._auditor = auditor

    async def execute(
        self, principal: Principal, meeting_id: str, changes: MeetingChanges
    ) -> MeetingView:
        require_permission(principal, Permission.CRM_WRITE)
        before = await self._rules.existing(meeting_id)
        wanted = changes.model_dump(exclude_unset=True)
        if "title" in wanted and wanted["title"] is not None:
            wanted["title"] = wanted["title"].strip()
        for required in ("title", "contact_id", "owner_id"):
            if required in wanted and wanted[required] is None:
                wanted.pop(required)
        if "timezone" in wanted:
            check_timezone(wanted["timezone"])
        if "reminders" in wanted:
            wanted["reminders"] = check_reminders(wanted["reminders"] or [])
        if "department_id" in wanted and wanted["department_id"] != before.department_id:
            await self._rules.check_department(wanted["department_id"])
        if "contact_id" in wanted:
            await self._rules.check_contact(wanted["contact_id"])
        current = before.model_dump(include=set(wanted))
        changed = {key: value for key, value in wanted.items() if current.get(key) != value}
        if not changed:
            return await self._rules.view(before)
        if before.status not in (MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED,
                                 MeetingStatus.RESCHEDULED):  # fmt: skip
            raise MeetingStateConflict(f"A {before.status.value} meeting cannot change.")
        changed["updated_at"] = stored_now()
        owner_id = changed.get("owner_id")
        if owner_id is not None:
            await self._rules.check_owner(owner_id)
            async with self._rules.calendar.hold(owner_id):
                await self._rules.check_free(
                    owner_id, before.starts_at, before.ends_at, excluding=meeting_id
                )
                after = await self._write(before, changed)
        else:
            after = await self._write(before, changed)
        if "reminders" in changed:
            await self._rules.plan_reminders(after)
        await self._auditor.record(
            "meeting.updated", "meeting", meeting_id, actor_id=principal.user_id,
            changes=audit_extra(principal, _changes_of(before, changed)),
        )  # fmt: skip
        return await self._rules.view(after)

    async def _write(self, before: Meeting, changed: dict[str, Any]) -> Meeting:
        assert before.id is not None  # noqa: S101 - stored
        after = await self._rules.meetings.change(
            before.id, changed, statuses=[before.status], version=before.schedule_version
        )
        if after is None:
            raise MeetingStateConflict(CHANGED_MEANWHILE)
        return after


def _changes_of(before: Meeting, changed: dict[str, Any]) -> dict[str, object]:
    old = before.model_dump(mode="json")
    return {
        key: {"from": old.get(key), "to": value.model_dump(mode="json")
              if isinstance(value, BaseModel) else value}
        for key, value in changed.items() if key != "updated_at"
    }  # fmt: skip


class RescheduleMeeting:
    """New times (`crm:write`): status `rescheduled` (to be confirmed again), a new
    schedule version, old reminders cancelled and new ones planned; the owner must be free
    at the new time. Optionally a new `timezone`."""

    def __init__(self, rules: MeetingRules, auditor: Auditor) -> None:
        self._rules = rules
        self._auditor = auditor

    async def execute(
        self, principal: Principal, meeting_id: str, starts_at: datetime, ends_at: datetime,
        *, timezone: str | None = None,
    ) -> MeetingView:  # fmt: skip
        require_permission(principal, Permission.CRM_WRITE)
        start, end = check_times(starts_at, ends_at)
        before = await self._rules.existing(meeting_id)
        check_transition(before.status, MeetingStatus.RESCHEDULED)
        changes: dict[str, object] = {
            "starts_at": start, "ends_at": end, "status": MeetingStatus.RESCHEDULED.value,
            "updated_at": stored_now(),
        }  # fmt: skip
        if timezone is not None:
            changes["timezone"] = check_timezone(timezone)
        async with self._rules.calendar.hold(before.owner_id):
            await self._rules.check_free(before.owner_id, start, end, excluding=meeting_id)
            after = await self._rules.meetings.change(
                meeting_id, changes, statuses=allowed_from(MeetingStatus.RESCHEDULED),
                version=before.schedule_version, bump_version=True,
            )  # fmt: skip
        if after is None:
            raise MeetingStateConflict(CHANGED_MEANWHILE)
        await self._rules.plan_reminders(after)
        await self._auditor.record(
            "meeting.rescheduled", "meeting", meeting_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "starts_at": {"from": before.starts_at.isoformat(), "to": start.isoformat()},
                "ends_at": {"from": before.ends_at.isoformat(), "to": end.isoformat()},
                "status": {"from": before.status.value, "to": after.status.value},
                "schedule_version": after.schedule_version,
            }),
        )  # fmt: skip
        return await self._rules.view(after)


class ChangeMeetingStatus:
    """Confirm, cancel, complete or mark a no-show (`crm:write`), as the lifecycle allows;
    `completed`/`no_show` only once the meeting has started. Leaving the upcoming statuses
    cancels the pending reminders."""

    def __init__(self, rules: MeetingRules, auditor: Auditor) -> None:
        self._rules = rules
        self._auditor = auditor

    async def execute(
        self, principal: Principal, meeting_id: str, target: MeetingStatus
    ) -> MeetingView:
        require_permission(principal, Permission.CRM_WRITE)
        if target is MeetingStatus.RESCHEDULED:
            raise MeetingStateConflict("A reschedule needs new times.")
        before = await self._rules.existing(meeting_id)
        check_transition(before.status, target)
        if target in AFTER_START and self._rules.clock.now() < before.starts_at:
            raise MeetingStateConflict(
                f"A meeting can be marked {target.value} only once it has started."
            )
        after = await self._rules.meetings.change(
            meeting_id, {"status": target.value, "updated_at": stored_now()},
            statuses=allowed_from(target),
        )  # fmt: skip
        if after is None:
            raise MeetingStateConflict(CHANGED_MEANWHILE)
        await self._rules.plan_reminders(after)
        await self._auditor.record(
            f"meeting.{target.value}", "meeting", meeting_id, actor_id=principal.user_id,
            changes=audit_extra(
                principal, {"status": {"from": before.status.value, "to": target.value}}
            ),
        )  # fmt: skip
        return await self._rules.view(after)


class GetMeeting:
    """One meeting (`crm:read`); another tenant's, or one outside the caller's
    departments, is 404."""

    def __init__(self, rules: MeetingRules) -> None:
        self._rules = rules

    async def execute(self, principal: Principal, meeting_id: str) -> MeetingView:
        require_permission(principal, Permission.CRM_READ)
        return await self._rules.view(await self._rules.existing(meeting_id))


class ListMeetings:
    """The meetings matching the filters, earliest start first, cursor-paged (`crm:read`)."""

    def __init__(self, rules: MeetingRules) -> None:
        self._rules = rules

    async def execute(
        self, principal: Principal, query: MeetingQuery, *, cursor: str | None, limit: int
    ) -> tuple[MeetingPage, str]:
        """The page and the tenant's zone (for meetings without their own)."""
        require_permission(principal, Permission.CRM_READ)
        page = await self._rules.meetings.search(query, cursor=cursor, limit=limit)
        return page, await self._rules.tenant_zone()
