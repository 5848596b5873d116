"""Meetings and their reminders in MongoDB.

- `crm_meetings`: department-routed (the department scope applies to every verb but the
  reminder job's read and the owner's overlap check, which see the whole tenant).
- `crm_meeting_reminders`: one row per (meeting, offset, schedule version), unique; a
  claim is a conditional update on the row's `_id` and state; the periodic job's
  cross-tenant read goes through the `(state, due_at)` index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from api.domain.crm.meetings import (
    Meeting,
    MeetingPage,
    MeetingQuery,
    MeetingStatus,
    Reminder,
    ReminderState,
    ReminderTemplate,
)
from api.infrastructure.persistence.base.department_scoped import (
    DepartmentOwnedDocument,
    DepartmentScopedRepository,
)
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

_FIELDS = set(Meeting.model_fields) - {"id", "tenant_id"}
_CHANGEABLE = frozenset({
    "title", "contact_id", "timezone", "location", "lead_id", "owner_id", "department_id",
    "reminders", "reminder_template", "starts_at", "ends_at", "status", "updated_at",
})  # fmt: skip


class MeetingDocument(DepartmentOwnedDocument):
    lead_id: str | None = None
    contact_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str | None = None
    location: str | None = None
    status: MeetingStatus = MeetingStatus.PROPOSED
    owner_id: str
    reminders: list[int] = Field(default_factory=list)
    reminder_template: ReminderTemplate | None = None
    schedule_version: int = 1
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "crm_meetings"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("starts_at", 1), ("_id", 1)], name="meeting_start"),
            IndexModel(
                [(TENANT_FIELD, 1), ("owner_id", 1), ("starts_at", 1)], name="meeting_owner"
            ),
            IndexModel([(TENANT_FIELD, 1), ("contact_id", 1)], name="meeting_contact"),
            IndexModel([(TENANT_FIELD, 1), ("lead_id", 1)], name="meeting_lead"),
        ]

    def to_entity(self) -> Meeting:
        return Meeting(
            id=str(self.id), tenant_id=self.tenant_id, department_id=self.department_id,
            **self.model_dump(include=_FIELDS - {"department_id"}),
        )  # fmt: skip


def _query_filter(query: MeetingQuery) -> dict[str, Any]:
    filter: dict[str, Any] = {}
    for field in ("owner_id", "contact_id", "lead_id", "department_id"):
        value = getattr(query, field)
        if value is not None:
            filter[field] = value
    if query.status is not None:
        filter["status"] = query.status.value
    bounds: dict[str, datetime] = {}
    if query.starts_from is not None:
        bounds["$gte"] = query.starts_from
    if query.starts_before is not None:
        bounds["$lt"] = query.starts_before
    if bounds:
        filter["starts_at"] = bounds
    return filter


class BeanieMeetingRepository:
    """`MeetingRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = DepartmentScopedRepository(MeetingDocument)
        self._tenant = TenantScopedRepository(MeetingDocument)

    async def add(self, meeting: Meeting) -> Meeting:
        document = MeetingDocument(**meeting.model_dump(include=_FIELDS))
        return (await self._scoped.insert(document)).to_entity()

    async def get(self, meeting_id: str) -> Meeting | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        document = await self._scoped.get(meeting_id)
        return document.to_entity() if document else None

    async def get_for_job(self, meeting_id: str) -> Meeting | None:
        self._tenant.scope()
        document = await self._tenant.get(meeting_id)
        return document.to_entity() if document else None

    async def change(
        self,
        meeting_id: str,
        changes: dict[str, object],
        *,
        statuses: Sequence[MeetingStatus],
        version: int | None = None,
        bump_version: bool = False,
    ) -> Meeting | None:
        self._scoped.scope()
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"meetings cannot change {sorted(unknown)}")
        oid = to_object_id(meeting_id)
        if oid is None:
            return None
        filter: dict[str, Any] = {"_id": oid, "status": {"$in": [s.value for s in statuses]}}
        if version is not None:
            filter["schedule_version"] = version
        update: dict[str, Any] = {"$set": dict(changes)}
        if bump_version:
            update["$inc"] = {"schedule_version": 1}
        document = await self._scoped.apply_and_get(filter, update)
        return document.to_entity() if document else None

    async def overlapping(
        self, owner_id: str, starts_at: datetime, ends_at: datetime, *, excluding: str | None
    ) -> Meeting | None:
        filter = tenant_first(
            owner_id=owner_id, starts_at={"$lt": ends_at}, ends_at={"$gt": starts_at},
            status={"$ne": MeetingStatus.CANCELLED.value},
        )  # fmt: skip
        if excluding is not None and (oid := to_object_id(excluding)) is not None:
            filter["_id"] = {"$ne": oid}
        found = await self._tenant.find(filter, limit=1)
        return found[0].to_entity() if found else None

    async def search(self, query: MeetingQuery, *, cursor: str | None, limit: int) -> MeetingPage:
        filter = tenant_first(
            **_query_filter(query), **after_cursor("starts_at", cursor, descending=False)
        )
        found = await self._scoped.find(
            filter,
            sort=[("starts_at", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)],
            limit=limit + 1,
        )
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.starts_at, str(last.id)) if last is not None else None
        return MeetingPage(items=items, next_cursor=next_cursor)


class MeetingReminderDocument(TenantOwnedDocument):
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

    class Settings:
        name = "crm_meeting_reminders"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("meeting_id", 1), ("offset_minutes", 1), ("version", 1)],
                unique=True,
                name="meeting_reminder_unique",
            ),
            # Cross-tenant on purpose: the periodic job's one read.
            IndexModel([("state", ASCENDING), ("due_at", ASCENDING)], name="meeting_reminder_due"),
        ]

    def to_entity(self) -> Reminder:
        return Reminder(
            id=str(self.id), tenant_id=self.tenant_id,
            **self.model_dump(exclude={"id", "tenant_id", "revision_id"}),
        )  # fmt: skip


_REMINDER_FIELDS = set(Reminder.model_fields) - {"id", "tenant_id"}


def _reminder(row: dict[str, Any]) -> Reminder:
    fields = {k: v for k, v in row.items() if k in _REMINDER_FIELDS}
    return Reminder(id=str(row["_id"]), tenant_id=row[TENANT_FIELD], **fields)


class BeanieMeetingReminders:
    """`ReminderRepository` adapter: tenant-scoped writes; `due` is platform-level by
    design (read-only)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(MeetingReminderDocument)

    async def plan(self, meeting: Meeting, planned: Sequence[tuple[int, datetime]]) -> int:
        assert meeting.id is not None  # noqa: S101 - stored
        new = 0
        for minutes, due_at in planned:
            key = tenant_first(
                meeting_id=meeting.id, offset_minutes=minutes, version=meeting.schedule_version
            )
            new += await self._scoped.upsert(
                key, {"$setOnInsert": {"due_at": due_at, "state": ReminderState.PENDING.value,
                                       "email_done": False, "whatsapp_done": False}},
            )  # fmt: skip
        return new

    async def cancel_pending(
        self, meeting_id: str, *, keep_version: int | None = None,
        keep_offsets: Sequence[int] = (),
    ) -> int:  # fmt: skip
        pending = await self._scoped.find(
            tenant_first(meeting_id=meeting_id, state=ReminderState.PENDING.value)
        )
        cancelled = 0
        for row in pending:
            if row.version == keep_version and row.offset_minutes in keep_offsets:
                continue
            cancelled += await self._scoped.apply_where(
                {"_id": row.id, "state": ReminderState.PENDING.value},
                {"$set": {"state": ReminderState.CANCELLED.value}},
            )
        return cancelled

    async def of_meeting(self, meeting_id: str) -> list[Reminder]:
        rows = await self._scoped.find(
            tenant_first(meeting_id=meeting_id),
            sort=[("version", SortDirection.ASCENDING), ("due_at", SortDirection.ASCENDING)],
        )
        return [row.to_entity() for row in rows]

    async def due(self, now: datetime, limit: int) -> list[Reminder]:
        collection = MeetingReminderDocument.get_pymongo_collection()
        pending = {"state": ReminderState.PENDING.value, "due_at": {"$lte": now}}
        lapsed = {"state": ReminderState.CLAIMED.value, "lease_until": {"$lte": now}}
        found: list[Reminder] = []
        with database_errors():
            for filter in (pending, lapsed):
                cursor = collection.find(filter).sort("due_at", ASCENDING).limit(limit)
                found += [_reminder(row) async for row in cursor]
        return sorted(found, key=lambda row: row.due_at)[:limit]

    async def claim(self, reminder: Reminder, now: datetime, lease_until: datetime) -> bool:
        oid = to_object_id(reminder.id or "")
        if oid is None:
            return False
        condition: dict[str, Any] = {"_id": oid, "state": reminder.state.value}
        if reminder.state is ReminderState.CLAIMED:
            condition["lease_until"] = reminder.lease_until
        return await self._scoped.apply_where(
            condition,
            {"$set": {"state": ReminderState.CLAIMED.value, "lease_until": lease_until}},
        )

    async def mark(self, reminder_id: str, changes: dict[str, object]) -> None:
        await self._scoped.apply(reminder_id, {"$set": dict(changes)})
