"""Channels in MongoDB, within the current tenant.

The channel's secrets are stored as the ciphertexts the domain holds (never plaintext).
A provider account (WhatsApp's `phone_number_id`, a Telegram bot, a Page...) may be
connected once across ALL tenants: `account_key` (`{type}:{account id}`) is set while the
channel is not disconnected, and a unique index over it (partial: only documents that have one)
makes the database refuse a second connection, whatever races the use case's own check. It is
one of two indexes of a tenant-owned collection that do not start with `tenant_id`, on
purpose: the rule it enforces is global. The other, over the business account
(`settings.waba_id`), serves the platform webhook's routing of template events to every
channel of that account, in whichever tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import DESCENDING, IndexModel

from api.domain.messaging.channels import (
    Channel,
    ChannelPage,
    ChannelSecrets,
    ChannelSettings,
    ChannelStatus,
    ChannelType,
    SecretName,
)
from api.infrastructure.persistence.base.mongo import lookup_index
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)
from api.infrastructure.persistence.base.writes import translated_writes

ACCOUNT_KEY = "account_key"
BUSINESS_ACCOUNT = "settings.waba_id"
_FIELDS = {
    "type", "name", "status", "settings", "verify_token", "messages_per_second",
    "created_at", "updated_at",
}  # fmt: skip


def account_key(channel: Channel) -> str | None:
    """The key that must be unique across tenants, or None once disconnected."""
    if channel.status is ChannelStatus.DISCONNECTED:
        return None
    return f"{channel.type.value}:{channel.account_id}"


class ChannelDocument(TenantOwnedDocument):
    type: ChannelType
    name: str
    status: ChannelStatus
    settings: ChannelSettings
    secrets: dict[str, str] = Field(default_factory=dict)  # name -> ciphertext
    verify_token: str
    messages_per_second: int
    account_key: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "channels"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("created_at", DESCENDING)], name="tenant_created"),
            IndexModel(
                [(ACCOUNT_KEY, 1)],
                unique=True,
                partialFilterExpression={ACCOUNT_KEY: {"$type": "string"}},
                name="connected_account_unique",
            ),
            lookup_index([(ACCOUNT_KEY, 1)], name="connected_account"),
            IndexModel([(BUSINESS_ACCOUNT, 1)], name="business_account"),
        ]

    @classmethod
    def from_entity(cls, channel: Channel) -> ChannelDocument:
        return cls(
            secrets={k.value: v for k, v in channel.secrets.ciphertexts.items()},
            account_key=account_key(channel),
            **channel.model_dump(include=_FIELDS),
        )

    def to_entity(self) -> Channel:
        return Channel(
            id=str(self.id),
            tenant_id=self.tenant_id,
            secrets=ChannelSecrets(ciphertexts={SecretName(k): v for k, v in self.secrets.items()}),
            **self.model_dump(include=_FIELDS),
        )


class BeanieChannelRepository:
    """`ChannelRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ChannelDocument)

    async def add(self, channel: Channel) -> Channel:
        return (await self._scoped.insert(ChannelDocument.from_entity(channel))).to_entity()

    async def get(self, channel_id: str) -> Channel | None:
        document = await self._scoped.get(channel_id)
        return document.to_entity() if document else None

    async def search(
        self, *, type: ChannelType | None, status: ChannelStatus | None, skip: int, limit: int
    ) -> ChannelPage:
        filter: dict[str, object] = {}
        if type is not None:
            filter["type"] = type.value
        if status is not None:
            filter["status"] = status.value
        found = await self._scoped.find(
            filter, sort=[("created_at", SortDirection.DESCENDING)], skip=skip, limit=limit
        )
        total = await self._scoped.count(filter)
        return ChannelPage(items=[d.to_entity() for d in found], total=total)

    async def mark_token_invalid(
        self,
        channel_id: str,
        refused_token: str,
        at: datetime,
        *,
        secret: SecretName = SecretName.ACCESS_TOKEN,
    ) -> bool:
        oid = to_object_id(channel_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(
            {"_id": oid, "status": ChannelStatus.ACTIVE.value,
             f"secrets.{secret.value}": refused_token},
            {"$set": {"status": ChannelStatus.TOKEN_INVALID.value, "updated_at": at}},
        )  # fmt: skip

    async def replace(self, channel: Channel) -> Channel | None:
        if channel.id is None:
            return None
        document = ChannelDocument.from_entity(channel)
        fields = document.model_dump(exclude={"id", "revision_id", TENANT_FIELD})
        with translated_writes():
            updated = await self._scoped.update(channel.id, fields)
        return updated.to_entity() if updated else None
