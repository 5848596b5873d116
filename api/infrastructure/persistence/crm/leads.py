"""Leads in MongoDB (`crm_leads`), within the current tenant and the caller's departments
(`DepartmentScopedRepository`: a limited user's every read and write is narrowed to
their departments).

`open_conversation` holds the conversation id while a lead made from a conversation is
open (not won or lost) and is removed when it closes; a unique partial index over
`(tenant, open_conversation)` lets one open lead exist per conversation however many
requests race (a plain index over the same keys answers the lookups: SecantusDB never
reads from a partial one). `title_search` is the title case-folded, what `?q=` matches.
Empty values are removed rather than stored as null. Changes are conditional on
`version`; the history is appended with `$push` and `$slice` (the newest
`HISTORY_LIMIT` kept).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from beanie import PydanticObjectId, SortDirection
from pymongo import IndexModel

from api.domain.crm.leads import (
    CLOSED,
    HISTORY_LIMIT,
    Lead,
    LeadChange,
    LeadExists,
    LeadPage,
    LeadQuery,
    LeadStage,
)
from api.domain.errors import Conflict
from api.infrastructure.persistence.base.department_scoped import (
    DepartmentOwnedDocument,
    DepartmentScopedRepository,
)
from api.infrastructure.persistence.base.mongo import lookup_index
from api.infrastructure.persistence.base.scoped import TENANT_FIELD, tenant_first, to_object_id
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

OPEN_KEY = "open_conversation"
_NEWEST = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]


def _by_created(*fields: str) -> list[tuple[str, int]]:
    """An index key: the tenant, `fields`, then the creation time (read backwards for the
    list's newest first). Ascending on purpose: the embedded server (SecantusDB) answers
    `$gte` at the bound as `$gt` over a descending key, which lost the leads created at
    exactly `created_from`."""
    return [(TENANT_FIELD, 1), *((f, 1) for f in fields), ("created_at", 1), ("_id", 1)]


class LeadDocument(DepartmentOwnedDocument):
    contact_id: str
    title: str
    title_search: str = ""
    value_minor: int | None = None
    currency: str | None = None
    stage: LeadStage = LeadStage.NEW
    source: str
    owner_id: str | None = None
    notes: str | None = None
    conversation_id: str | None = None
    open_conversation: str | None = None
    history: list[LeadChange] = []
    version: int = 0
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "crm_leads"
        keep_nulls = False
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), (OPEN_KEY, 1)],
                unique=True,
                partialFilterExpression={OPEN_KEY: {"$type": "string"}},
                name="open_lead_per_conversation_unique",
            ),
            lookup_index([(TENANT_FIELD, 1), (OPEN_KEY, 1)], name="open_lead_per_conversation"),
            IndexModel(_by_created(), name="tenant_created"),
            IndexModel(_by_created("stage"), name="stage_created"),
            IndexModel(_by_created("owner_id"), name="owner_created"),
            IndexModel(_by_created("department_id"), name="department_created"),
            IndexModel(_by_created("contact_id"), name="contact_created"),
            IndexModel([(TENANT_FIELD, 1), ("updated_at", 1)], name="tenant_updated"),
        ]

    def to_entity(self) -> Lead:
        return Lead(
            id=str(self.id), tenant_id=self.tenant_id, contact_id=self.contact_id,
            title=self.title, value_minor=self.value_minor, currency=self.currency,
            stage=self.stage, source=self.source, owner_id=self.owner_id,
            department_id=self.department_id, notes=self.notes,
            conversation_id=self.conversation_id, history=list(self.history),
            version=self.version, created_by=self.created_by, created_at=self.created_at,
            updated_at=self.updated_at,
        )  # fmt: skip

    @classmethod
    def of(cls, lead: Lead) -> LeadDocument:
        fields = lead.model_dump(exclude={"id", "tenant_id"})
        open_key = lead.conversation_id if lead.is_open else None
        return cls(**fields, title_search=lead.title.casefold(), open_conversation=open_key)


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, LeadStage) else value


class BeanieLeadRepository:
    """`LeadRepository` adapter."""

    def __init__(self) -> None:
        self._scoped = DepartmentScopedRepository(LeadDocument)

    async def add(self, lead: Lead) -> Lead:
        document = LeadDocument.of(lead)
        try:
            await self._scoped.insert(document)
        except Conflict:
            await self._raise_exists(lead.conversation_id)
            raise
        return document.to_entity()

    async def add_with_id(self, lead_id: str, lead: Lead) -> tuple[Lead, bool]:
        document = LeadDocument.of(lead)
        document.id = PydanticObjectId(lead_id)
        try:
            await self._scoped.insert(document)
        except Conflict:
            found = await self.get(lead_id)
            if found is None:
                raise
            return found, False
        return document.to_entity(), True

    async def _raise_exists(self, conversation_id: str | None) -> None:
        if conversation_id is None:
            return
        existing = await self.open_for_conversation(conversation_id)
        if existing is not None and existing.id is not None:
            raise LeadExists(existing.id)

    async def get(self, lead_id: str) -> Lead | None:
        found = await self._scoped.get(lead_id)
        return found.to_entity() if found else None

    async def open_for_conversation(self, conversation_id: str) -> Lead | None:
        found = await self._scoped.find(tenant_first(**{OPEN_KEY: conversation_id}), limit=1)
        return found[0].to_entity() if found else None

    async def replace_if_unchanged(
        self,
        lead_id: str,
        expected_version: int,
        changes: Mapping[str, Any],
        history: list[LeadChange],
    ) -> Lead | None:
        oid = to_object_id(lead_id)
        if oid is None:
            return None
        sets = {k: _stored(v) for k, v in changes.items() if v is not None}
        unsets = {k: "" for k, v in changes.items() if v is None}
        if "title" in changes:
            sets["title_search"] = str(changes["title"]).casefold()
        conversation_id: str | None = None
        if "stage" in changes:
            current = await self.get(lead_id)
            conversation_id = current.conversation_id if current else None
            if conversation_id is not None and changes["stage"] in CLOSED:
                unsets[OPEN_KEY] = ""
            elif conversation_id is not None:
                sets[OPEN_KEY] = conversation_id
        update: dict[str, Any] = {
            "$inc": {"version": 1},
            "$push": {"history": {"$each": [h.model_dump() for h in history],
                                  "$slice": -HISTORY_LIMIT}},
        }  # fmt: skip
        if sets:
            update["$set"] = sets
        if unsets:
            update["$unset"] = unsets
        try:
            found = await self._scoped.apply_and_get({"_id": oid, "version": expected_version},
                                                     update)  # fmt: skip
        except Conflict:
            await self._raise_exists(conversation_id)
            raise
        return found.to_entity() if found else None

    async def delete(self, lead_id: str) -> bool:
        return await self._scoped.delete(lead_id)

    async def search(self, query: LeadQuery, *, cursor: str | None, limit: int) -> LeadPage:
        filter: dict[str, Any] = tenant_first()
        for field in ("stage", "owner_id", "department_id", "contact_id", "source"):
            value = getattr(query, field)
            if value is not None:
                filter[field] = _stored(value)
        created: dict[str, datetime] = {}
        if query.created_from is not None:
            created["$gte"] = query.created_from
        if query.created_to is not None:
            created["$lt"] = query.created_to
        if created:
            filter["created_at"] = created
        if query.text and query.text.strip():
            filter["title_search"] = {"$regex": re.escape(query.text.strip().casefold())}
        if cursor is not None:
            page = after_cursor("created_at", cursor)
            if "created_at" in filter:
                window = filter.pop("created_at")
                filter["$and"] = [{"created_at": window}, page]
            else:
                filter.update(page)
        found = await self._scoped.find(filter, sort=_NEWEST, limit=limit + 1)
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.created_at, str(last.id)) if last else None
        return LeadPage(items=items, next_cursor=next_cursor)
