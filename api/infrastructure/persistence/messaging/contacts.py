"""Contacts in MongoDB, within the current tenant.

`bsuid` and `wa_id` are each unique per tenant and channel (partial unique indexes: only
documents that have one), so two first messages of one customer racing each other end
in one contact: the upsert that loses the race is retried and then matches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pymongo import IndexModel

from api.common.clock import utcnow
from api.domain.messaging.contacts import Contact, ContactIdentity, ContactSource
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)

_STRING = {"$type": "string"}


class ContactDocument(TenantOwnedDocument):
    channel_id: str
    name: str | None = None
    phone: str | None = None
    wa_id: str | None = None
    bsuid: str | None = None
    username: str | None = None
    email: str | None = None
    language: str | None = None
    attributes: dict[str, Any] = {}
    tags: list[str] = []
    opted_out: bool = False
    opted_out_at: datetime | None = None
    opt_out_source: str | None = None
    source: ContactSource = ContactSource.INBOUND
    last_inbound_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "contacts"
        keep_nulls = False  # absent ids stay absent, so the partial indexes skip them
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("bsuid", 1)],
                unique=True,
                partialFilterExpression={"bsuid": _STRING},
                name="channel_bsuid_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("wa_id", 1)],
                unique=True,
                partialFilterExpression={"wa_id": _STRING},
                name="channel_wa_id_unique",
            ),
        ]

    def to_entity(self) -> Contact:
        return Contact(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


def _refresh(identity: ContactIdentity, at: datetime) -> dict[str, Any]:
    """What an inbound message refreshes: every id and name it carries, the time."""
    fields: dict[str, Any] = {"updated_at": utcnow()}
    for name, value in (
        ("bsuid", identity.bsuid),
        ("wa_id", identity.wa_id),
        ("phone", identity.phone),
        ("username", identity.username),
        ("name", identity.name),
    ):
        if value:
            fields[name] = value
    return {"$set": fields, "$max": {"last_inbound_at": at}}


class BeanieContactRepository:
    """`ContactRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ContactDocument)

    async def upsert_inbound(
        self, channel_id: str, identity: ContactIdentity, at: datetime
    ) -> Contact:
        if not (identity.bsuid or identity.wa_id):
            raise ValueError("an inbound contact needs a bsuid or a wa_id")
        update = _refresh(identity, at)
        # Known by the user id, else by the number (a contact from before user ids, or
        # created by hand): it gains the user id.
        keys = [("bsuid", identity.bsuid), ("wa_id", identity.wa_id)]
        for field, value in keys:
            if value and await self._scoped.apply_where(
                {"channel_id": channel_id, field: value}, update
            ):
                return await self._one(channel_id, field, value)
        field, value = next((f, v) for f, v in keys if v)
        insert = {
            **update,
            "$setOnInsert": {
                "source": ContactSource.INBOUND.value, "created_at": utcnow(),
                "attributes": {}, "tags": [], "opted_out": False,
            },
        }  # fmt: skip
        await self._scoped.upsert({"channel_id": channel_id, field: value}, insert)
        return await self._one(channel_id, field, value)

    async def change_identity(
        self,
        channel_id: str,
        *,
        bsuid: str | None,
        wa_id: str | None,
        new_bsuid: str | None = None,
        new_wa_id: str | None = None,
    ) -> Contact | None:
        changes: dict[str, Any] = {"updated_at": utcnow()}
        if new_bsuid:
            changes["bsuid"] = new_bsuid
        if new_wa_id:
            changes.update(wa_id=new_wa_id, phone=f"+{new_wa_id}")
        for field, value in (("bsuid", bsuid), ("wa_id", wa_id)):
            if value and await self._scoped.apply_where(
                {"channel_id": channel_id, field: value}, {"$set": changes}
            ):
                key = new_bsuid if field == "bsuid" and new_bsuid else value
                key = new_wa_id if field == "wa_id" and new_wa_id else key
                return await self._one(channel_id, field, key)
        return None

    async def get(self, contact_id: str) -> Contact | None:
        document = await self._scoped.get(contact_id)
        return document.to_entity() if document else None

    async def _one(self, channel_id: str, field: str, value: str) -> Contact:
        found = await self._scoped.find({"channel_id": channel_id, field: value}, limit=1)
        return found[0].to_entity()
