"""Conversations in MongoDB, within the current tenant.

`active_key` (the contact id) is set while a conversation is unresolved and removed when
it is resolved; a unique partial index over `(tenant, channel, active_key)` lets only one
unresolved conversation exist per contact and channel, so an inbound message's upsert
joins it or opens it, atomically, however many messages race (and reopening a resolved
one while the contact has a newer one is refused by the same index).

`contact_search` is what `?q=` searches: the contact's name case-folded and its phone's
digits, refreshed with the contact on every inbound message. The inbox's actions are
conditional updates (the filter is the condition), so racing claims have one winner.
Empty values (no assignee, no team, no snooze) are removed rather than set to null.

Conversations can be routed to a department (`department_id`): the repository is
department-scoped (`DepartmentScopedRepository`), so a department-limited user's work only
finds, counts and changes the conversations of their departments. Three verbs are
department-blind on purpose, being the system's and keyed by contact rather than by what a
user may see: joining an inbound message (a job), opening the contact's conversation for
an outbound one (the sending use case checks the caller may write in it), and taking a
deleted team off every conversation.

`PlatformSnoozeAlarms` is the one cross-tenant read, over a partial index of the snoozed
conversations only (`snoozed_until`), for the periodic wake-up job.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import ASCENDING, DESCENDING, IndexModel

from api.common.clock import utcnow
from api.domain.departments import department_scope
from api.domain.messaging.channels import ChannelType, has_service_window
from api.domain.messaging.conversations import (
    SERVICE_WINDOW,
    ContactSummary,
    Conversation,
    ConversationPage,
    ConversationQuery,
    ConversationStatus,
    DueSnooze,
    HandledBy,
    Priority,
)
from api.infrastructure.persistence.base.department_scoped import (
    DepartmentOwnedDocument,
    DepartmentScopedRepository,
)
from api.infrastructure.persistence.base.mongo import database_errors, lookup_index
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

ACTIVE_KEY = "active_key"
SEARCH_KEY = "contact_search"
_ACTIVITY = "last_message_at"
_UNRESOLVED = [s.value for s in ConversationStatus if s is not ConversationStatus.RESOLVED]


def _by_activity(*fields: str) -> list[tuple[str, int]]:
    """An index key: the tenant, `fields`, then newest activity first (the list's order)."""
    return [(TENANT_FIELD, ASCENDING), *((f, ASCENDING) for f in fields),
            (_ACTIVITY, DESCENDING), ("_id", DESCENDING)]  # fmt: skip


def search_key(contact: ContactSummary) -> str:
    """What `?q=` matches: the name case-folded, then the phone's digits."""
    digits = re.sub(r"\D", "", contact.phone or contact.wa_id or "")
    return f"{(contact.name or '').casefold()}\n{digits}"


def text_filter(text: str) -> dict[str, Any]:
    """`?q=` as a filter on `contact_search`: a piece of a phone number (only digits,
    spaces, `+ - ( ) .`) by its digits, anything else as a piece of the name (literally:
    regex characters are escaped)."""
    digits = re.sub(r"\D", "", text)
    if digits and re.fullmatch(r"[\d\s+\-().]+", text):
        return {SEARCH_KEY: {"$regex": re.escape(digits)}}
    return {SEARCH_KEY: {"$regex": re.escape(text.strip().casefold())}}


class ConversationDocument(DepartmentOwnedDocument):
    channel_id: str
    channel_type: ChannelType
    contact: ContactSummary
    active_key: str | None = None
    contact_search: str = ""
    status: ConversationStatus = ConversationStatus.OPEN
    priority: Priority = Priority.NORMAL
    assignee_id: str | None = None
    team_id: str | None = None
    handled_by: HandledBy = HandledBy.HUMAN
    tags: list[str] = []
    unread_count: int = 0
    last_message_at: datetime | None = None
    last_inbound_at: datetime | None = None
    window_expires_at: datetime | None = None
    snoozed_until: datetime | None = None
    first_reply_at: datetime | None = None
    first_inbound_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "conversations"
        keep_nulls = False
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), (ACTIVE_KEY, 1)],
                unique=True,
                partialFilterExpression={ACTIVE_KEY: {"$type": "string"}},
                name="unresolved_per_contact_unique",
            ),
            lookup_index(
                [(TENANT_FIELD, 1), ("channel_id", 1), (ACTIVE_KEY, 1)],
                name="unresolved_per_contact",
            ),
            # A contact's conversations (a merge moves them; a data deletion blanks them).
            lookup_index([(TENANT_FIELD, 1), ("contact.id", 1)], name="contact_conversations"),
            IndexModel(_by_activity(), name="tenant_activity"),
            # The list's common filters, each in the list's order.
            IndexModel(_by_activity("status"), name="status_activity"),
            IndexModel(_by_activity("assignee_id"), name="assignee_activity"),
            IndexModel(_by_activity("team_id"), name="team_activity"),
            IndexModel(_by_activity("department_id"), name="department_activity"),
            IndexModel(_by_activity("tags"), name="tag_activity"),
            IndexModel(_by_activity("channel_type"), name="channel_type_activity"),
            # Cross-tenant on purpose (the wake-up job's one read): only snoozed ones.
            IndexModel(
                [("snoozed_until", ASCENDING)],
                partialFilterExpression={"snoozed_until": {"$type": "date"}},
                name="snoozed_due",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("assignee_id", 1)],
                partialFilterExpression={ACTIVE_KEY: {"$type": "string"}},
                name="unresolved_by_assignee",
            ),
            # The dashboard's windows (api/infrastructure/persistence/analytics).
            IndexModel([(TENANT_FIELD, 1), ("created_at", 1)], name="tenant_created"),
            IndexModel([(TENANT_FIELD, 1), ("resolved_at", 1)], name="tenant_resolved"),
            IndexModel([(TENANT_FIELD, 1), ("first_response_at", 1)], name="tenant_first_response"),
        ]

    def to_entity(self) -> Conversation:
        return Conversation(
            id=str(self.id),
            **self.model_dump(exclude={"id", "revision_id", ACTIVE_KEY, SEARCH_KEY}),
        )


def _inbound_update(
    channel_type: ChannelType, contact: ContactSummary | None, at: datetime, now: datetime
) -> dict[str, Any]:
    """What a customer's message at `at` moves: the activity and the window forward (never
    back), the first inbound time back; with `contact`, its summary and search key."""
    fields: dict[str, Any] = {"updated_at": now}
    if contact is not None:
        fields.update({"contact": contact.model_dump(), SEARCH_KEY: search_key(contact)})
    return {
        "$set": fields,
        "$max": {
            _ACTIVITY: at, "last_inbound_at": at,
            # a provider without a service window (Telegram) leaves it null
            **({"window_expires_at": at + SERVICE_WINDOW}
               if has_service_window(channel_type) else {}),
        },
        "$min": {"first_inbound_at": at},
    }  # fmt: skip


class BeanieConversationRepository:
    """`ConversationRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = DepartmentScopedRepository(ConversationDocument)

    async def join_inbound(
        self,
        channel_id: str,
        channel_type: ChannelType,
        contact: ContactSummary,
        at: datetime,
        *,
        bot: bool = False,
    ) -> tuple[Conversation, bool]:
        handled_by, status = (
            (HandledBy.BOT, ConversationStatus.PENDING)
            if bot
            else (HandledBy.HUMAN, ConversationStatus.OPEN)
        )
        now = utcnow()
        key = {"channel_id": channel_id, ACTIVE_KEY: contact.id}
        update = _inbound_update(channel_type, contact, at, now)
        update["$setOnInsert"] = {
            "channel_type": channel_type.value, "status": status.value,
            "priority": Priority.NORMAL.value, "handled_by": handled_by.value,
            "tags": [], "unread_count": 0, "created_at": now,
        }  # fmt: skip
        with department_scope(None):  # the system's: see the module docstring
            opened = await self._scoped.upsert(key, update)
            found = await self._scoped.find(key, limit=1)
        return found[0].to_entity(), opened

    async def active(self, channel_id: str, contact_id: str) -> Conversation | None:
        with department_scope(None):  # the system's: see the module docstring
            found = await self._scoped.find(
                {"channel_id": channel_id, ACTIVE_KEY: contact_id}, limit=1
            )
        return found[0].to_entity() if found else None

    async def note_inbound(
        self,
        conversation_id: str,
        channel_type: ChannelType,
        contact: ContactSummary | None,
        at: datetime,
        *,
        unread: bool,
    ) -> Conversation | None:
        oid = to_object_id(conversation_id)
        if oid is None:
            return None
        update = _inbound_update(channel_type, contact, at, utcnow())
        if unread:
            update["$inc"] = {"unread_count": 1}
        with department_scope(None):  # the system's: see the module docstring
            document = await self._scoped.apply_and_get({"_id": oid}, update)
        return document.to_entity() if document else None

    async def get(self, conversation_id: str) -> Conversation | None:
        document = await self._scoped.get(conversation_id)
        return document.to_entity() if document else None

    async def erase_contact(self, contact_id: str) -> list[str]:
        found = await self._scoped.find({"contact.id": contact_id})
        blank = ContactSummary(id=contact_id)
        await self._scoped.update_many(
            {"contact.id": contact_id},
            {"$set": {"contact": blank.model_dump(), SEARCH_KEY: search_key(blank)}},
        )
        return [str(document.id) for document in found]

    async def unresolved(self, channel_id: str, contact_id: str) -> Conversation | None:
        found = await self._scoped.find({"channel_id": channel_id, ACTIVE_KEY: contact_id}, limit=1)
        return found[0].to_entity() if found else None

    async def last_written(self, channel_id: str, contact_id: str) -> Conversation | None:
        found = await self._scoped.find(
            {"channel_id": channel_id, "contact.id": contact_id,
             "last_inbound_at": {"$type": "date"}},
            sort=[("last_inbound_at", SortDirection.DESCENDING)], limit=1,
        )  # fmt: skip
        return found[0].to_entity() if found else None

    async def open_outbound(
        self, channel_id: str, channel_type: ChannelType, contact: ContactSummary
    ) -> Conversation:
        now = utcnow()
        key = {"channel_id": channel_id, ACTIVE_KEY: contact.id}
        with department_scope(None):  # the system's: see the module docstring
            found = await self._scoped.find(key, limit=1)
            if found:
                return found[0].to_entity()
            before = (
                await self.last_written(channel_id, contact.id) if contact.id is not None else None
            )
            window = {} if before is None else {
                "last_inbound_at": before.last_inbound_at,
                # a provider without a service window (Telegram) has none to carry
                **({"window_expires_at": before.window_expires_at}
                   if before.window_expires_at is not None else {}),
            }  # fmt: skip
            await self._scoped.upsert(
                key,
                {"$setOnInsert": {
                    "contact": contact.model_dump(), "channel_type": channel_type.value,
                    "status": ConversationStatus.OPEN.value, "priority": Priority.NORMAL.value,
                    "handled_by": HandledBy.HUMAN.value, "tags": [], "unread_count": 0,
                    "created_at": now, "updated_at": now, **window,
                }},
            )  # fmt: skip
            found = await self._scoped.find(key, limit=1)
        return found[0].to_entity()

    async def record_outbound(
        self, conversation_id: str, at: datetime, *, reply: bool, seen: Conversation | None = None
    ) -> None:
        await self._scoped.apply(
            conversation_id, {"$max": {_ACTIVITY: at}, "$set": {"updated_at": utcnow()}}
        )
        if not reply:
            return
        oid = to_object_id(conversation_id)
        # A first time once set is never unset: what `seen` shows set needs no conditional
        # update (each costs the embedded server a pass over the collection's indexes).
        if seen is None or seen.first_reply_at is None:
            await self._scoped.apply_where(
                {"_id": oid, "first_reply_at": None}, {"$set": {"first_reply_at": at}}
            )
        if seen is None or seen.first_response_at is None:
            # The first answer to the customer: once they wrote, and only the first.
            await self._scoped.apply_where(
                {"_id": oid, "first_response_at": None, "first_inbound_at": {"$type": "date"}},
                {"$set": {"first_response_at": at}},
            )

    async def mark_read(self, conversation_id: str) -> bool:
        return await self._scoped.apply(
            conversation_id, {"$set": {"unread_count": 0, "updated_at": utcnow()}}
        )

    async def search(
        self, query: ConversationQuery, *, cursor: str | None, limit: int
    ) -> ConversationPage:
        filter = tenant_first(**_query_filter(query), **after_cursor(_ACTIVITY, cursor))
        found = await self._scoped.find(
            filter,
            sort=[(_ACTIVITY, SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)],
            limit=limit + 1,
        )
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = (
            encode_cursor(last.last_message_at, str(last.id))
            if last is not None and last.last_message_at is not None
            else None
        )
        return ConversationPage(items=items, next_cursor=next_cursor)

    async def assign(
        self, conversation_id: str, *, assignee_id: str | None, team_id: str | None, team: bool
    ) -> Conversation | None:
        fields: dict[str, Any] = {"assignee_id": assignee_id}
        if team:
            fields["team_id"] = team_id
        return await self._change(conversation_id, {}, fields)

    async def assign_if_free(self, conversation_id: str, assignee_id: str) -> Conversation | None:
        return await self._change(
            conversation_id, {"assignee_id": {"$in": [None, assignee_id]}},
            {"assignee_id": assignee_id},
        )  # fmt: skip

    async def resolve(
        self, conversation_id: str, *, at: datetime, by: str | None
    ) -> Conversation | None:
        return await self._change(
            conversation_id, {},
            {"status": ConversationStatus.RESOLVED.value, ACTIVE_KEY: None, "snoozed_until": None,
             "resolved_at": at, "resolved_by": by},
        )  # fmt: skip

    async def reopen(self, conversation_id: str) -> Conversation | None:
        document = await self._scoped.get(conversation_id)
        if document is None:
            return None
        return await self._change(
            conversation_id, {"status": document.status.value},
            {"status": ConversationStatus.OPEN.value, ACTIVE_KEY: document.contact.id,
             "snoozed_until": None, "resolved_at": None, "resolved_by": None},
        )  # fmt: skip

    async def snooze(self, conversation_id: str, until: datetime) -> Conversation | None:
        return await self._change(
            conversation_id, {"status": {"$in": _UNRESOLVED}},
            {"status": ConversationStatus.SNOOZED.value, "snoozed_until": until},
        )  # fmt: skip

    async def wake(self, conversation_id: str, *, due_by: datetime | None) -> Conversation | None:
        condition: dict[str, Any] = {"status": ConversationStatus.SNOOZED.value}
        if due_by is not None:
            condition["snoozed_until"] = {"$lte": due_by}
        return await self._change(
            conversation_id, condition,
            {"status": ConversationStatus.OPEN.value, "snoozed_until": None},
        )  # fmt: skip

    async def set_tags(self, conversation_id: str, tags: list[str]) -> Conversation | None:
        return await self._change(conversation_id, {}, {"tags": tags})

    async def set_priority(self, conversation_id: str, priority: Priority) -> Conversation | None:
        return await self._change(conversation_id, {}, {"priority": priority.value})

    async def set_department(
        self, conversation_id: str, department_id: str | None
    ) -> Conversation | None:
        return await self._change(conversation_id, {}, {"department_id": department_id})

    async def clear_team(self, team_id: str) -> int:
        with department_scope(None):  # every conversation: see the module docstring
            return await self._scoped.update_many(
                tenant_first(team_id=team_id),
                {"$unset": {"team_id": ""}, "$set": {"updated_at": utcnow()}},
            )

    async def _change(
        self, conversation_id: str, condition: dict[str, Any], fields: dict[str, Any]
    ) -> Conversation | None:
        """Set `fields` (None: remove the field) if `condition` holds; the result."""
        oid = to_object_id(conversation_id)
        if oid is None:
            self._scoped.scope()  # still no work without a tenant
            return None
        update: dict[str, Any] = {
            "$set": {"updated_at": utcnow(), **{k: v for k, v in fields.items() if v is not None}}
        }
        removed = {k: "" for k, v in fields.items() if v is None}
        if removed:
            update["$unset"] = removed
        if not await self._scoped.apply_where({"_id": oid, **condition}, update):
            return None
        return await self.get(conversation_id)

    async def assign_if_unassigned(
        self, conversation_id: str, assignee_id: str
    ) -> Conversation | None:
        document = await self._scoped.get(conversation_id)
        if document is None:
            return None
        changed = await self._scoped.apply_where(
            {"_id": document.id, "assignee_id": None, ACTIVE_KEY: {"$type": "string"}},
            {"$set": {"assignee_id": assignee_id, "updated_at": utcnow()}},
        )
        if not changed:
            return None
        return await self.get(conversation_id)

    async def hand_over(self, conversation_id: str, to: HandledBy) -> Conversation | None:
        other = HandledBy.BOT if to is HandledBy.HUMAN else HandledBy.HUMAN
        fields: dict[str, Any] = {"handled_by": to.value}
        if to is HandledBy.HUMAN:
            fields["status"] = ConversationStatus.OPEN.value
            fields["snoozed_until"] = None
        else:
            fields.update(status=ConversationStatus.PENDING.value, assignee_id=None)
        return await self._change(
            conversation_id,
            {"handled_by": other.value, ACTIVE_KEY: {"$type": "string"}},
            fields,
        )

    async def unresolved_load(self, assignee_ids: list[str]) -> dict[str, int]:
        if not assignee_ids:
            return {}
        rows = await self._scoped.aggregate(
            [
                {"$match": {"assignee_id": {"$in": assignee_ids}, ACTIVE_KEY: {"$type": "string"}}},
                {"$group": {"_id": "$assignee_id", "n": {"$sum": 1}}},
            ]
        )
        return {str(row["_id"]): int(row["n"]) for row in rows}


def _query_filter(query: ConversationQuery) -> dict[str, Any]:
    filter: dict[str, Any] = {}
    if query.status is not None:
        filter["status"] = query.status.value
    if query.unassigned:
        filter["assignee_id"] = None
    elif query.assignee_id is not None:
        filter["assignee_id"] = query.assignee_id
    if query.team_id is not None:
        filter["team_id"] = query.team_id
    if query.department_id is not None:
        filter["department_id"] = query.department_id
    if query.tag is not None:
        filter["tags"] = query.tag
    if query.channel_id is not None:
        filter["channel_id"] = query.channel_id
    if query.channel_type is not None:
        filter["channel_type"] = query.channel_type.value
    if query.text:
        filter.update(text_filter(query.text))
    return filter


class PlatformSnoozeAlarms:
    """`SnoozeAlarms` adapter (platform-level by design; read-only, ids only)."""

    async def due(self, at: datetime, limit: int) -> list[DueSnooze]:
        collection = ConversationDocument.get_pymongo_collection()
        with database_errors():
            cursor = (
                collection.find(
                    {"snoozed_until": {"$lte": at}, "status": ConversationStatus.SNOOZED.value},
                    {TENANT_FIELD: 1},
                )
                .sort("snoozed_until", ASCENDING)
                .limit(limit)
            )
            return [
                DueSnooze(tenant_id=row[TENANT_FIELD], conversation_id=str(row["_id"]))
                async for row in cursor
            ]
