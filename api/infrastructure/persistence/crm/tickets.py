"""Tickets in MongoDB (`crm_tickets`, department-scoped) and their numbers
(`crm_ticket_counters`, one document per tenant).

Numbers without gaps: a ticket's number is taken by the insert of the ticket itself, under
the unique index `(tenant_id, number)`; the counter only says where to start (the highest
number known to be used) and is raised (`$max`, atomic) after each insert. A create tries
counter + 1; when another create inserted that number first (duplicate key) it tries the
next one. A create that fails for any other reason (or a crash) used no number, so the
numbers of a tenant are always exactly 1..N. Tickets are never deleted (closed instead).

Comments live in the ticket's document (at most `MAX_COMMENTS`); every other read leaves
them out (a projection).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from api.common.clock import utcnow
from api.domain.crm.tickets import (
    MAX_COMMENTS,
    UNRESOLVED,
    DueTicket,
    SlaTimer,
    Ticket,
    TicketComment,
    TicketCounts,
    TicketDurations,
    TicketPage,
    TicketPriority,
    TicketQuery,
    TicketSla,
    TicketStatus,
)
from api.domain.errors import Conflict
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

_NOT_COMMENTS = {"comments": 0}
_MAX_NUMBER_ATTEMPTS = 10_000  # one per concurrent create that took a number first
_UNRESOLVED = [s.value for s in UNRESOLVED]


class StoredSla(BaseModel):
    """`TicketSla` as stored: with `breached` spelled out (the dashboard filters on it)."""

    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    resolution_paused_minutes: int | None = None
    first_response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    breached: bool = False

    @classmethod
    def of(cls, sla: TicketSla) -> StoredSla:
        return cls(**sla.model_dump(), breached=sla.breached)

    def to_entity(self) -> TicketSla:
        return TicketSla(**self.model_dump(exclude={"breached"}))


def _by_created(*keys: str) -> list[tuple[str, int]]:
    return [(TENANT_FIELD, 1), *((k, 1) for k in keys), ("created_at", DESCENDING),
            ("_id", DESCENDING)]  # fmt: skip


class TicketDocument(DepartmentOwnedDocument):
    number: int
    contact_id: str
    conversation_id: str | None = None
    subject: str
    description: str | None = None
    priority: TicketPriority
    status: TicketStatus
    assignee_id: str | None = None
    sla: StoredSla = Field(default_factory=StoredSla)
    sla_watch_at: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    created_by: str | None = None
    comments: list[TicketComment] = Field(default_factory=list)
    comment_count: int = 0
    revision: int = 0
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "crm_tickets"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("number", 1)], unique=True, name="ticket_number_unique"
            ),
            IndexModel(_by_created(), name="ticket_created"),
            IndexModel(_by_created("status"), name="ticket_status_created"),
            IndexModel(_by_created("assignee_id"), name="ticket_assignee_created"),
            IndexModel(_by_created("department_id"), name="ticket_department_created"),
            IndexModel(_by_created("contact_id"), name="ticket_contact_created"),
            IndexModel([(TENANT_FIELD, 1), ("resolved_at", 1)], name="ticket_resolved"),
            # Cross-tenant on purpose: the SLA job's one read (null: not watched).
            IndexModel([("sla_watch_at", ASCENDING)], name="ticket_sla_watch"),
        ]

    def to_entity(self) -> Ticket:
        return Ticket(
            id=str(self.id), tenant_id=self.tenant_id, department_id=self.department_id,
            sla=self.sla.to_entity(),
            **self.model_dump(
                exclude={"id", "revision_id", "tenant_id", "department_id", "sla", "comments",
                         "comment_count"}
            ),
        )  # fmt: skip


class TicketCounterDocument(TenantOwnedDocument):
    value: int = 0  # the highest ticket number known to be used

    class Settings:
        name = "crm_ticket_counters"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1)], unique=True, name="ticket_counter_unique"),
        ]


def _stored(changes: dict[str, object]) -> dict[str, Any]:
    """Entity changes as `$set` values (enums as strings, the SLA as stored)."""
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if isinstance(value, TicketSla):
            out[key] = StoredSla.of(value).model_dump()
        elif isinstance(value, TicketPriority | TicketStatus):
            out[key] = value.value
        else:
            out[key] = value
    return out


def _query_filter(query: TicketQuery) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("status", "priority", "assignee_id", "department_id", "contact_id"):
        value = getattr(query, name)
        if value is not None:
            fields[name] = (
                value.value if isinstance(value, TicketStatus | TicketPriority) else value
            )
    if query.breached is not None:
        fields["sla.breached"] = query.breached
    return fields


class BeanieTicketRepository:
    """`TicketRepository` adapter (fail closed: `TenantRequired` without a tenant; limited
    users see their departments' tickets only)."""

    def __init__(self) -> None:
        self._scoped = DepartmentScopedRepository(TicketDocument)
        self._counters = TenantScopedRepository(TicketCounterDocument)

    async def add(self, ticket: Ticket) -> Ticket:
        number = await self._highest() + 1
        fields = ticket.model_dump(exclude={"id", "tenant_id", "number", "sla"})
        for _ in range(_MAX_NUMBER_ATTEMPTS):
            document = TicketDocument(number=number, sla=StoredSla.of(ticket.sla), **fields)
            try:
                await self._scoped.insert(document)
            except Conflict:  # another create has this number: the next one
                number = max(number + 1, await self._highest() + 1)
                continue
            await self._counters.upsert({}, {"$max": {"value": number}})
            return document.to_entity()
        raise Conflict("No ticket number could be taken; try again.")

    async def _highest(self) -> int:
        found = await self._counters.find(limit=1)
        return found[0].value if found else 0

    async def _one(self, ticket_id: str, projection: dict[str, int]) -> dict[str, Any] | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        oid = to_object_id(ticket_id)
        if oid is None:
            return None
        with database_errors():
            row: dict[str, Any] | None = await self._collection().find_one(
                self._scoped.scope({"_id": oid}), projection
            )
        return row

    async def get(self, ticket_id: str) -> Ticket | None:
        row = await self._one(ticket_id, _NOT_COMMENTS)
        return _entity(row) if row is not None else None

    async def update(
        self, ticket_id: str, changes: dict[str, object], *, revision: int
    ) -> Ticket | None:
        oid = to_object_id(ticket_id)
        if oid is None:
            return None
        update = {"$set": {**_stored(changes), "updated_at": utcnow()}, "$inc": {"revision": 1}}
        if not await self._scoped.apply_where({"_id": oid, "revision": revision}, update):
            return None
        return await self.get(ticket_id)

    async def set_watch(self, ticket_id: str, at: datetime | None, *, revision: int) -> bool:
        oid = to_object_id(ticket_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(
            {"_id": oid, "revision": revision}, {"$set": {"sla_watch_at": at}}
        )

    async def add_comment(self, ticket_id: str, comment: TicketComment) -> bool:
        oid = to_object_id(ticket_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(
            {"_id": oid, "comment_count": {"$lt": MAX_COMMENTS}},
            {"$push": {"comments": comment.model_dump()}, "$inc": {"comment_count": 1}},
        )

    async def comments(self, ticket_id: str) -> list[TicketComment] | None:
        row = await self._one(ticket_id, {"comments": 1})
        if row is None:
            return None
        return [TicketComment.model_validate(c) for c in row.get("comments", [])]

    async def record_first_response(self, ticket_id: str, at: datetime) -> Ticket | None:
        oid = to_object_id(ticket_id)
        if oid is None:
            return None
        claimed = await self._scoped.apply_where(
            {"_id": oid, "first_responded_at": None},
            {"$set": {"first_responded_at": at, "updated_at": utcnow()}, "$inc": {"revision": 1}},
        )
        return await self.get(ticket_id) if claimed else None

    async def record_breach(
        self, ticket_id: str, timer: SlaTimer, at: datetime, *, revision: int
    ) -> Ticket | None:
        oid = to_object_id(ticket_id)
        if oid is None:
            return None
        field = f"sla.{timer.value}_breached_at"
        claimed = await self._scoped.apply_where(
            {"_id": oid, "revision": revision, field: None},
            {"$set": {field: at, "sla.breached": True, "updated_at": utcnow()},
             "$inc": {"revision": 1}},
        )  # fmt: skip
        return await self.get(ticket_id) if claimed else None

    async def search(self, query: TicketQuery, *, cursor: str | None, limit: int) -> TicketPage:
        filter = self._scoped.scope(
            tenant_first(**_query_filter(query), **after_cursor("created_at", cursor))
        )
        with database_errors():
            rows = await (
                self._collection()
                .find(filter, _NOT_COMMENTS)
                .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
                .limit(limit + 1)
                .to_list()
            )
        items = [_entity(row) for row in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        next_cursor = encode_cursor(last.created_at, last.id or "") if last is not None else None
        return TicketPage(items=items, next_cursor=next_cursor)

    async def counts(self, since: datetime, until: datetime) -> TicketCounts:
        unresolved = {"status": {"$in": _UNRESOLVED}}
        grouped = await self._scoped.aggregate(
            [{"$match": tenant_first(**unresolved)},
             {"$group": {"_id": "$priority", "n": {"$sum": 1}}}]
        )  # fmt: skip
        in_range = {"$gte": since, "$lt": until}
        return TicketCounts(
            open_by_priority={TicketPriority(row["_id"]): int(row["n"]) for row in grouped},
            open_breached=await self._scoped.count(
                tenant_first(**unresolved, **{"sla.breached": True})
            ),
            first_response_breaches=await self._scoped.count(
                tenant_first(**{"sla.first_response_breached_at": in_range})
            ),
            resolution_breaches=await self._scoped.count(
                tenant_first(**{"sla.resolution_breached_at": in_range})
            ),
        )

    async def durations(self, since: datetime, until: datetime, limit: int) -> TicketDurations:
        responded = await self._minutes(
            {"created_at": {"$gte": since, "$lt": until}, "first_responded_at": {"$ne": None}},
            "first_responded_at", limit,
        )  # fmt: skip
        resolved = await self._minutes(
            {"resolved_at": {"$gte": since, "$lt": until}}, "resolved_at", limit
        )
        return TicketDurations(first_response_minutes=responded, resolution_minutes=resolved)

    async def _minutes(self, filter: dict[str, Any], field: str, limit: int) -> list[float]:
        scoped = self._scoped.scope(tenant_first(**filter))
        with database_errors():
            rows = await (
                self._collection()
                .find(scoped, {"created_at": 1, field: 1})
                .sort([(field, DESCENDING)])
                .limit(limit)
                .to_list()
            )
        return [
            (row[field] - row["created_at"]).total_seconds() / 60
            for row in rows
            if isinstance(row.get(field), datetime)
        ]

    async def due(self, now: datetime, limit: int) -> list[DueTicket]:
        projection = {TENANT_FIELD: 1, "_id": 1}
        with database_errors():
            rows = await (
                self._collection()
                .find({"sla_watch_at": {"$lte": now}}, projection)
                .sort("sla_watch_at", ASCENDING)
                .limit(limit)
                .to_list()
            )
        return [DueTicket(tenant_id=row[TENANT_FIELD], ticket_id=str(row["_id"])) for row in rows]

    @staticmethod
    def _collection() -> Any:
        return TicketDocument.get_pymongo_collection()


def _entity(row: dict[str, Any]) -> Ticket:
    row = {**row, "_id": PydanticObjectId(row["_id"])}
    row.pop("comments", None)
    document: TicketDocument = TicketDocument.model_validate(row)
    return document.to_entity()
