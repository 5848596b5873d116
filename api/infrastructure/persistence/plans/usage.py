"""The current tenant's usage as the database has it (messages: the inbox's outbound
messages and the campaigns' sent rows): the seeds of the plan counters and
the figures `GET /tenant/usage` falls back on (one count or one `$group` each)."""

from __future__ import annotations

from datetime import datetime

from api.domain.messaging.channels import ChannelStatus
from api.infrastructure.persistence.ai.usage import MongoUsageLedger
from api.infrastructure.persistence.base.scoped import TenantScopedRepository
from api.infrastructure.persistence.files.storage import FileDocument
from api.infrastructure.persistence.identity.users import UserDocument
from api.infrastructure.persistence.messaging.campaigns import CampaignRecipientDocument
from api.infrastructure.persistence.messaging.channels import ChannelDocument
from api.infrastructure.persistence.messaging.messages import MessageDocument


class MongoUsageSources:
    """`UsageSources` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._users = TenantScopedRepository(UserDocument)
        self._channels = TenantScopedRepository(ChannelDocument)
        self._messages = TenantScopedRepository(MessageDocument)
        self._files = TenantScopedRepository(FileDocument)
        self._recipients = TenantScopedRepository(CampaignRecipientDocument)
        self._ledger = MongoUsageLedger()

    async def seats(self) -> int:
        return await self._users.count({"is_active": True})

    async def channels(self) -> int:
        found = await self._channels.aggregate(
            [{"$match": {}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        )
        return sum(int(r["n"]) for r in found if r["_id"] != ChannelStatus.DISCONNECTED.value)

    async def outbound_messages(self, since: datetime, until: datetime) -> int:
        # The range alone on the indexed `created_at` first, the direction after (see
        # persistence/analytics/inbox.py: the embedded server reads no index otherwise).
        found = await self._messages.aggregate(
            [
                {"$match": {"created_at": {"$gte": since, "$lt": until}}},
                {"$match": {"direction": "outbound", "private": {"$ne": True}}},
                {"$count": "n"},
            ]
        )
        sent = await self._recipients.count({"sent_at": {"$gte": since, "$lt": until}})
        return (int(found[0]["n"]) if found else 0) + sent

    async def ai_tokens(self, day: str) -> int:
        return await self._ledger.tenant_total(day)

    async def storage_bytes(self) -> int:
        found = await self._files.aggregate(
            [{"$match": {}}, {"$group": {"_id": None, "n": {"$sum": "$size"}}}]
        )
        return int(found[0]["n"]) if found else 0
