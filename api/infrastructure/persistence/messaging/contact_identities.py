"""Which contact each provider user id is (Telegram, Messenger, Instagram), per tenant.

One document per (tenant, channel type, provider account, user id), unique: a full (not
partial) unique index with `tenant_id` first, which also answers the lookups (SecantusDB
serves reads from a full index). The contact id is allocated in the same upsert that
creates the identity (`$setOnInsert`), so two first messages of one customer racing each
other agree on one contact id before either creates the contact. A second index over
(tenant, contact) serves a contact's identities and a merge's move.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from bson import ObjectId
from pymongo import IndexModel

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.contacts import ChannelUserIdentity
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
)


class ContactIdentityDocument(TenantOwnedDocument):
    channel_type: ChannelType
    account_id: str
    user_id: str
    contact_id: str
    username: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "contact_identities"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_type", 1), ("account_id", 1), ("user_id", 1)],
                unique=True,
                name="tenant_identity_unique",
            ),
            IndexModel([(TENANT_FIELD, 1), ("contact_id", 1)], name="tenant_contact"),
        ]

    def to_entity(self) -> ChannelUserIdentity:
        return ChannelUserIdentity(
            channel_type=self.channel_type,
            account_id=self.account_id,
            user_id=self.user_id,
            username=self.username,
        )


def _key(identity: ChannelUserIdentity) -> dict[str, Any]:
    return tenant_first(
        channel_type=identity.channel_type.value,
        account_id=identity.account_id,
        user_id=identity.user_id,
    )


class BeanieContactIdentityRepository:
    """`ContactIdentityRepository` adapter (fail closed without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ContactIdentityDocument)

    async def contact_id_for(self, identity: ChannelUserIdentity) -> str:
        now = utcnow()
        fields: dict[str, Any] = {"updated_at": now}
        if identity.username:
            fields["username"] = identity.username
        update = {
            "$set": fields,
            "$setOnInsert": {"contact_id": str(ObjectId()), "created_at": now},
        }
        try:
            await self._scoped.upsert(_key(identity), update)
        except Conflict:  # a concurrent first message inserted it: it matches now
            await self._scoped.upsert(_key(identity), update)
        return await self._current(identity)

    async def contact_id_of(self, identity: ChannelUserIdentity) -> str | None:
        found = await self._scoped.find(_key(identity), limit=1)
        return found[0].contact_id if found else None

    async def reassign(self, identity: ChannelUserIdentity, stale_contact_id: str) -> str:
        await self._scoped.apply_where(
            {**_key(identity), "contact_id": stale_contact_id},
            {"$set": {"contact_id": str(ObjectId()), "updated_at": utcnow()}},
        )
        return await self._current(identity)

    async def move(self, from_contact_id: str, to_contact_id: str) -> int:
        return await self._scoped.update_many(
            tenant_first(contact_id=from_contact_id),
            {"$set": {"contact_id": to_contact_id, "updated_at": utcnow()}},
        )

    async def forget_contact(self, contact_id: str) -> int:
        return await self._scoped.delete_many(tenant_first(contact_id=contact_id))

    async def of_contact(self, contact_id: str) -> list[ChannelUserIdentity]:
        found = await self._scoped.find(tenant_first(contact_id=contact_id), limit=1000)
        return [document.to_entity() for document in found]

    async def user_id_on(
        self, contact_id: str, channel_type: ChannelType, account_id: str
    ) -> str | None:
        found = await self._scoped.find(
            tenant_first(
                contact_id=contact_id, channel_type=channel_type.value, account_id=account_id
            ),
            limit=1,
        )
        return found[0].user_id if found else None

    async def user_ids_on(
        self, contact_ids: list[str], channel_type: ChannelType, account_id: str
    ) -> dict[str, str]:
        if not contact_ids:
            return {}
        found = await self._scoped.find(
            tenant_first(
                contact_id={"$in": list(dict.fromkeys(contact_ids))},
                channel_type=channel_type.value,
                account_id=account_id,
            ),
            limit=len(contact_ids) * 2,
        )
        return {document.contact_id: document.user_id for document in found}

    async def _current(self, identity: ChannelUserIdentity) -> str:
        found = await self.contact_id_of(identity)
        if found is None:  # deleted between the write and the read (a tenant being erased)
            raise Conflict("The customer's identity changed meanwhile; retry.")
        return found
