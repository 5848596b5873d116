"""The platform's figures: cross-tenant reads, on purpose (platform admins only).

Tenants are few and platform-level: one `$group` on their creation date, one on status.
Messages (the inbox's and the campaigns' sent rows), AI tokens and files are read tenant
by tenant, each on its `tenant_id`-first index (`tenant_created` for messages and files,
`tenant_sent` for campaign rows, `tenant_day_user_model` with the day names for the AI
ledger): a range on a second key of a compound index, or a cross-tenant
range, would scan the collection on the embedded server. Results are days x directions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.domain.analytics.platform import TenantDayActivity
from api.infrastructure.persistence.ai.usage import UsageDocument
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import TENANT_FIELD
from api.infrastructure.persistence.files.storage import FileDocument
from api.infrastructure.persistence.messaging.campaigns import CampaignRecipientDocument
from api.infrastructure.persistence.messaging.messages import MessageDocument
from api.infrastructure.persistence.tenants.tenants import TenantDocument

_UTC_DAY = "%Y-%m-%d"


def _day(field: str) -> dict[str, Any]:
    return {"$dateToString": {"format": _UTC_DAY, "date": f"${field}", "timezone": "UTC"}}


async def _aggregate(collection: Any, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with database_errors():
        cursor = await collection.aggregate(pipeline)
        return [row async for row in cursor]


class MongoPlatformFigures:
    """`PlatformFigures` adapter (unscoped: platform plane)."""

    async def tenants_created(self, since: datetime, until: datetime) -> dict[str, int]:
        rows = await _aggregate(
            TenantDocument.get_pymongo_collection(),
            [
                {"$match": {"created_at": {"$gte": since, "$lt": until}}},
                {"$group": {"_id": _day("created_at"), "n": {"$sum": 1}}},
            ],
        )
        return {str(r["_id"]): int(r["n"]) for r in rows}

    async def tenants_by_status(self) -> dict[str, int]:
        rows = await _aggregate(
            TenantDocument.get_pymongo_collection(),
            [{"$match": {}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}],
        )
        return {str(r["_id"]): int(r["n"]) for r in rows}

    async def tenant_ids(self) -> list[str]:
        collection = TenantDocument.get_pymongo_collection()
        with database_errors():
            return [str(d["_id"]) async for d in collection.find({}, {"_id": 1})]

    async def activity(
        self, tenant_id: str, since: datetime, until: datetime, days: list[str]
    ) -> list[TenantDayActivity]:
        found: dict[str, TenantDayActivity] = {}

        def row(day: str) -> TenantDayActivity:
            return found.setdefault(day, TenantDayActivity(tenant_id=tenant_id, day=day))

        in_range = {TENANT_FIELD: tenant_id, "created_at": {"$gte": since, "$lt": until}}
        messages = await _aggregate(
            MessageDocument.get_pymongo_collection(),
            [
                {"$match": in_range},
                # a campaign's message a reply brought in counts once, as its row below
                {"$match": {"private": {"$ne": True}, "sender.type": {"$ne": "campaign"}}},
                {"$group": {"_id": {"d": _day("created_at"), "dir": "$direction"},
                            "n": {"$sum": 1}}},
            ],
        )  # fmt: skip
        for r in messages:
            day_row = row(str(r["_id"]["d"]))
            if r["_id"]["dir"] == "inbound":
                day_row.messages_inbound += int(r["n"])
            else:
                day_row.messages_outbound += int(r["n"])
        campaigns = await _aggregate(
            CampaignRecipientDocument.get_pymongo_collection(),
            [
                {"$match": {TENANT_FIELD: tenant_id, "sent_at": {"$gte": since, "$lt": until}}},
                {"$group": {"_id": _day("sent_at"), "n": {"$sum": 1}}},
            ],
        )
        for r in campaigns:
            row(str(r["_id"])).messages_outbound += int(r["n"])
        tokens = await _aggregate(
            UsageDocument.get_pymongo_collection(),
            [
                {"$match": {TENANT_FIELD: tenant_id, "day": {"$in": days}}},
                {"$group": {"_id": "$day",
                            "n": {"$sum": {"$add": ["$input_tokens", "$output_tokens"]}}}},
            ],
        )  # fmt: skip
        for r in tokens:
            row(str(r["_id"])).ai_tokens += int(r["n"])
        # Files' index is descending on `created_at`, where `$gte` at the exact bound acts
        # as `$gt` on the embedded server: a millisecond earlier, and the day decides.
        files = await _aggregate(
            FileDocument.get_pymongo_collection(),
            [
                {"$match": {TENANT_FIELD: tenant_id,
                            "created_at": {"$gte": since - timedelta(milliseconds=1),
                                           "$lt": until}}},
                {"$group": {"_id": _day("created_at"), "n": {"$sum": "$size"}}},
            ],
        )  # fmt: skip
        wanted = set(days)
        for r in files:
            if str(r["_id"]) in wanted:
                row(str(r["_id"])).storage_bytes += int(r["n"])
        return list(found.values())

    async def storage_bytes(self, tenant_id: str) -> int:
        rows = await _aggregate(
            FileDocument.get_pymongo_collection(),
            [
                {"$match": {TENANT_FIELD: tenant_id}},
                {"$group": {"_id": None, "n": {"$sum": "$size"}}},
            ],
        )
        return int(rows[0]["n"]) if rows else 0
