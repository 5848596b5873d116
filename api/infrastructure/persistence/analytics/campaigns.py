"""Campaign performance read from the campaigns feature's collections, by aggregation.

Kept small and on its own on purpose: the campaigns feature is built in parallel, and
this adapter assumes only what its documents are expected to hold, to be reconciled when
they land:

- `campaign_recipients`: `tenant_id`, `campaign_id`, `run_id`, `status` (`pending`,
  `sending`, `sent`, `delivered`, `read`, `failed`, `skipped`) and `updated_at`;
- `campaigns`: `tenant_id`, `name` (its `_id` is the recipients' `campaign_id`, as an
  ObjectId or the same string).

A collection that does not exist reads as empty. Both reads are tenant-scoped through
`TenantScopedRepository` (its `$match` on the tenant first), over the raw collections:
no document class is bound here, so nothing is created or indexed by this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from api.domain.analytics.dashboard import CampaignPerformance
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)

RECIPIENTS = "campaign_recipients"
CAMPAIGNS = "campaigns"
_SENT = ["sent", "delivered", "read"]
_DELIVERED = ["delivered", "read"]


class _RawCollection(TenantScopedRepository[TenantOwnedDocument]):
    """The scoped base over a collection no document class is bound to (aggregates and
    the scoping of filters; not the document-class reads)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        super().__init__(TenantOwnedDocument)
        self._raw = collection

    def _collection(self) -> AsyncCollection[dict[str, Any]]:
        return self._raw


def _count_if(statuses: list[str]) -> dict[str, Any]:
    return {"$sum": {"$cond": [{"$in": ["$status", statuses]}, 1, 0]}}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class MongoCampaignPerformance:
    """`CampaignPerformanceSource` adapter: recipients whose `updated_at` is in the
    window, per campaign, by how far they got; ordered by campaign name, then id."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._recipients = _RawCollection(database[RECIPIENTS])
        self._campaigns = _RawCollection(database[CAMPAIGNS])
        self._campaign_names = database[CAMPAIGNS]

    async def performance(self, since: datetime, until: datetime) -> list[CampaignPerformance]:
        rows = await self._recipients.aggregate([
            {"$match": {"updated_at": {"$gte": since, "$lt": until}}},
            {"$group": {
                "_id": "$campaign_id", "recipients": {"$sum": 1}, "sent": _count_if(_SENT),
                "delivered": _count_if(_DELIVERED), "read": _count_if(["read"]),
                "failed": _count_if(["failed"]),
            }},
        ])  # fmt: skip
        names = await self._names([row["_id"] for row in rows])
        found = [
            CampaignPerformance(
                campaign_id=str(row["_id"]), name=names.get(str(row["_id"])),
                recipients=row["recipients"], sent=row["sent"], delivered=row["delivered"],
                read=row["read"], failed=row["failed"],
                delivery_rate=_rate(row["delivered"], row["sent"]),
                read_rate=_rate(row["read"], row["delivered"]),
            )
            for row in rows
            if row["_id"] is not None
        ]  # fmt: skip
        return sorted(found, key=lambda c: (c.name or "", c.campaign_id))

    async def _names(self, ids: list[Any]) -> dict[str, str]:
        keys: list[Any] = [i for i in ids if i is not None]
        keys += [oid for i in keys if isinstance(i, str) and (oid := to_object_id(i))]
        if not keys:
            return {}
        filter = self._campaigns.scope({"_id": {"$in": keys}})
        with database_errors():
            cursor = self._campaign_names.find(filter, {"name": 1})
            return {str(doc["_id"]): str(doc["name"]) async for doc in cursor if doc.get("name")}
