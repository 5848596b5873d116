"""A conversation's history for its transcript, oldest first and in batches: its messages
and notes (`inbox_messages`) and its status changes (the audit log's `conversation.*`
entries), within the current tenant.

Each batch is one query on `(tenant, conversation, created_at >= last time)` sorted by
time then id, skipping the items of the last time already read: no `$or` (the embedded
server scans for one) and no cursor held between batches, so memory is bounded by the
batch whatever the length of the conversation.

`>= t` is written `> t - 1 ms` (the same, times being stored to the millisecond): the
embedded server (SecantusDB) answers `$gte` on a field its index sorts descending as
`$gt`, losing the items at exactly `t`
(tests/integration/crm/test_transcript_store.py shows the history complete).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from beanie import Document, SortDirection

from api.domain.audit import AuditEntry
from api.domain.messaging.messages import Message
from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.audit.entries import AuditEntryDocument
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import TENANT_FIELD
from api.infrastructure.persistence.messaging.messages import MessageDocument

# The audited actions that change a conversation's state (see api/usecases/messaging).
STATUS_ACTIONS = (
    "conversation.resolved", "conversation.reopened", "conversation.snoozed",
    "conversation.woken", "conversation.assigned", "conversation.claimed",
    "conversation.handed_off", "conversation.handed_to_bot", "conversation.priority_changed",
)  # fmt: skip

D = TypeVar("D", bound=Document)
_MS = timedelta(milliseconds=1)
_ORDER = [("created_at", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)]


def utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def _paged(
    fetch: Callable[[datetime | None, int, int], Awaitable[list[D]]], size: int
) -> AsyncIterator[list[D]]:
    at: datetime | None = None
    seen = 0  # items at time `at` already yielded
    while True:
        found = await fetch(at, seen, size)
        if found:
            yield found
        if len(found) < size:
            return
        last = found[-1].created_at
        same = sum(1 for d in found if d.created_at == last)
        seen = seen + same if last == at else same
        at = last


class ConversationHistory:
    """Reads one conversation's messages and status changes, oldest first."""

    def messages(self, conversation_id: str, size: int) -> AsyncIterator[list[Message]]:
        tenant_id = current_tenant()  # fail closed now, not at the first batch

        async def fetch(at: datetime | None, skip: int, limit: int) -> list[MessageDocument]:
            filter: dict[str, Any] = {TENANT_FIELD: tenant_id, "conversation_id": conversation_id}
            if at is not None:
                filter["created_at"] = {"$gt": at - _MS}  # `$gte` (see above)
            with database_errors():
                return (
                    await MessageDocument.find(filter).sort(_ORDER).skip(skip).limit(limit)
                    .to_list()
                )  # fmt: skip

        return _entities(_paged(fetch, size), MessageDocument.to_entity)

    def status_changes(self, conversation_id: str, size: int) -> AsyncIterator[list[AuditEntry]]:
        tenant_id = current_tenant()

        async def fetch(at: datetime | None, skip: int, limit: int) -> list[AuditEntryDocument]:
            filter: dict[str, Any] = {TENANT_FIELD: tenant_id, "resource_id": conversation_id,
                                      "resource_type": "conversation",
                                      "action": {"$in": list(STATUS_ACTIONS)}}  # fmt: skip
            if at is not None:
                filter["created_at"] = {"$gt": at - _MS}  # `$gte` (see above)
            with database_errors():
                return (
                    await AuditEntryDocument.find(filter).sort(_ORDER).skip(skip).limit(limit)
                    .to_list()
                )  # fmt: skip

        return _entities(_paged(fetch, size), AuditEntryDocument.to_entity)


T = TypeVar("T")


async def _entities(
    pages: AsyncIterator[list[D]], convert: Callable[[D], T]
) -> AsyncIterator[list[T]]:
    async for page in pages:
        yield [convert(d) for d in page]
