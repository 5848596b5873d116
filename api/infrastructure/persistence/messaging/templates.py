"""Message templates in MongoDB, within the current tenant.

One document per (tenant, channel, name, language), unique. A sync reads the channel's
stored templates once, then writes only what changed (new, changed, gone: `DELETED`) in
one bulk write, so a sync that finds nothing new writes nothing and `updated_at` tells
when the provider last changed a template.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import DESCENDING, IndexModel

from api.domain.errors import Conflict
from api.domain.messaging.templates import (
    DELETED,
    ParameterFormat,
    SyncOutcome,
    Template,
    TemplateFields,
    TemplatePage,
    TemplateVariable,
)
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)
from api.infrastructure.persistence.base.writes import UpdateOp, WriteOp
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

DUPLICATE = "The channel already has a template with this name and language."
_CREATED = "created_at"
_SYNCED = (
    "external_id", "category", "status", "parameter_format", "components", "variables",
    "quality", "rejected_reason",
)  # fmt: skip


class TemplateDocument(TenantOwnedDocument):
    channel_id: str
    waba_id: str
    external_id: str | None = None
    name: str
    language: str
    category: str | None = None
    status: str
    parameter_format: ParameterFormat = ParameterFormat.POSITIONAL
    components: list[dict[str, Any]] = []
    variables: list[TemplateVariable] = []
    quality: str | None = None
    rejected_reason: str | None = None
    active: bool = True  # Parley's own: a sync never changes it
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "message_templates"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("name", 1), ("language", 1)],
                unique=True,
                name="channel_name_language_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), (_CREATED, DESCENDING), ("_id", DESCENDING)],
                name="tenant_created",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("waba_id", 1), ("external_id", 1)],
                name="tenant_business_template",
            ),
        ]

    @classmethod
    def from_entity(cls, template: Template) -> TemplateDocument:
        return cls(**template.model_dump(exclude={"id", "tenant_id"}))

    def to_entity(self) -> Template:
        return Template(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


class BeanieTemplateRepository:
    """`TemplateRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(TemplateDocument)

    async def add(self, template: Template) -> Template:
        try:
            return (await self._scoped.insert(TemplateDocument.from_entity(template))).to_entity()
        except Conflict:
            raise Conflict(DUPLICATE) from None

    async def get(self, template_id: str) -> Template | None:
        document = await self._scoped.get(template_id)
        return document.to_entity() if document else None

    async def find(self, channel_id: str, name: str, language: str) -> Template | None:
        found = await self._scoped.find(
            {"channel_id": channel_id, "name": name, "language": language}, limit=1
        )
        return found[0].to_entity() if found else None

    async def search(
        self,
        *,
        channel_id: str | None,
        status: str | None,
        category: str | None,
        q: str | None,
        cursor: str | None,
        limit: int,
        active: bool | None = None,
    ) -> TemplatePage:
        filter: dict[str, Any] = after_cursor(_CREATED, cursor)
        if active is not None:  # stored before the flag existed: active
            filter["active"] = {"$ne": False} if active else False
        if channel_id is not None:
            filter["channel_id"] = channel_id
        if status is not None:
            filter["status"] = status
        if category is not None:
            filter["category"] = category
        if q:
            filter["name"] = {"$regex": re.escape(q.strip().lower())}
        found = await self._scoped.find(
            filter,
            sort=[(_CREATED, SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)],
            limit=limit + 1,
        )
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.created_at, str(last.id)) if last is not None else None
        return TemplatePage(items=items, next_cursor=next_cursor)

    async def upsert_synced(
        self, channel_id: str, waba_id: str, templates: list[TemplateFields], at: datetime
    ) -> SyncOutcome:
        stored = {
            (d.name, d.language): d for d in await self._scoped.find({"channel_id": channel_id})
        }
        outcome = SyncOutcome()
        operations: list[WriteOp] = []
        listed: set[tuple[str, str]] = set()
        for template in templates:
            key = (template.name, template.language)
            if key in listed:  # the provider listed it twice: the first one counts
                continue
            listed.add(key)
            fields = template.model_dump(include=set(_SYNCED), mode="json")
            before = stored.get(key)
            if before is not None and _same(before, fields, waba_id):
                continue
            if before is None:
                outcome.created += 1
            else:
                outcome.updated += 1
            operations.append(
                UpdateOp(
                    {"channel_id": channel_id, "name": template.name,
                     "language": template.language},
                    {"$set": {**fields, "waba_id": waba_id, "updated_at": at},
                     "$setOnInsert": {_CREATED: at}},
                    upsert=True,
                )
            )  # fmt: skip
        for key, document in stored.items():
            if key not in listed and document.status != DELETED:
                outcome.deleted += 1
                operations.append(
                    UpdateOp(
                        {"_id": document.id},
                        {"$set": {"status": DELETED, "updated_at": at}},
                    )
                )
        if operations:
            await self._scoped.bulk_write(operations, ordered=False)
        return outcome

    async def apply_update(
        self, waba_id: str, external_id: str, changes: dict[str, Any], at: datetime
    ) -> int:
        return await self._scoped.update_many(
            {"waba_id": waba_id, "external_id": external_id},
            {"$set": {**changes, "updated_at": at}},
        )

    async def delete(self, template_id: str) -> bool:
        return await self._scoped.delete(template_id)

    async def set_active(self, template_id: str, active: bool) -> Template | None:
        if not await self._scoped.apply(template_id, {"$set": {"active": active}}):
            return None
        return await self.get(template_id)


def _same(document: TemplateDocument, fields: dict[str, Any], waba_id: str) -> bool:
    current = document.model_dump(include=set(_SYNCED), mode="json")
    return document.waba_id == waba_id and current == fields
