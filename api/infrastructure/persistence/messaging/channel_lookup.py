"""`ChannelLookup`: the one cross-tenant read of channels, for the public webhooks.

A webhook names a channel (by id in its URL, or by provider account in its body) and no
tenant: the channel is what says which tenant the delivery belongs to. Nothing else may
read channels outside the current tenant; tenant routes use `BeanieChannelRepository`.
"""

from __future__ import annotations

from beanie import SortDirection

from api.domain.messaging.channels import Channel, ChannelStatus, ChannelType
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import to_object_id
from api.infrastructure.persistence.messaging.channels import (
    ACCOUNT_KEY,
    BUSINESS_ACCOUNT,
    ChannelDocument,
)

MAX_CHANNELS_PER_BUSINESS = 1000


class PlatformChannelLookup:
    """`ChannelLookup` adapter (platform-level by design; read-only)."""

    async def by_id(self, channel_id: str) -> Channel | None:
        oid = to_object_id(channel_id)
        if oid is None:
            return None
        with database_errors():
            document = await ChannelDocument.find_one({"_id": oid})
        return document.to_entity() if document else None

    async def by_account(self, type: ChannelType, account_id: str) -> Channel | None:
        with database_errors():
            document = await ChannelDocument.find_one({ACCOUNT_KEY: f"{type.value}:{account_id}"})
        return document.to_entity() if document else None

    async def by_business_account(
        self, type: ChannelType, business_account_id: str
    ) -> list[Channel]:
        with database_errors():
            documents = (
                await ChannelDocument.find(
                    {
                        BUSINESS_ACCOUNT: business_account_id,
                        "type": type.value,
                        "status": {"$ne": ChannelStatus.DISCONNECTED.value},
                    }
                )
                .sort([("_id", SortDirection.ASCENDING)])
                .limit(MAX_CHANNELS_PER_BUSINESS)
                .to_list()
            )
        return [document.to_entity() for document in documents]
