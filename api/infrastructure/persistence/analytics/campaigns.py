"""Campaign performance read from the campaigns feature's own documents, by aggregation.

Kept small and on its own: it relies only on these fields, so a change there is adjusted
here alone:

- `campaign_recipients` (`CampaignRecipientDocument`): `campaign_id`, `status`
  (`pending`, `sending`, `sent`, `delivered`, `read`, `failed`, `skipped`), `updated_at`;
- `campaigns` (`CampaignDocument`): `name` (its `_id` is the recipients' `campaign_id`).

Both reads go through `TenantScopedRepository` (the tenant in the first `$match`). The
recipients have no index on `updated_at`: the window is a scan of the tenant's recipient
rows, answered by the server (one row per campaign comes back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.domain.analytics.dashboard import CampaignPerformance
from api.infrastructure.persistence.base.scoped import TenantScopedRepository, to_object_id
from api.infrastructure.persistence.messaging.campaigns import (
    CampaignDocument,
    CampaignRecipientDocument,
)

_SENT = ["sent", "delivered", "read"]
_DELIVERED = ["delivered", "read"]


def _count_if(statuses: list[str]) -> dict[str, Any]:
    return {"$sum": {"$cond": [{"$in": ["$status", statuses]}, 1, 0]}}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class MongoCampaignPerformance:
    """`CampaignPerformanceSource` adapter: recipients whose `updated_at` is in the
    window, per campaign, by how far they got; ordered by campaign name, then id."""

    def __init__(self) -> None:
        self._recipients = TenantScopedRepository(CampaignRecipientDocument)
        self._campaigns = TenantScopedRepository(CampaignDocument)

    async def performance(self, since: datetime, until: datetime) -> list[CampaignPerformance]:
        rows = await self._recipients.aggregate([
            {"$match": {"updated_at": {"$gte": since, "$lt": until}}},
            {"$group": {
                "_id": "$campaign_id", "recipients": {"$sum": 1}, "sent": _count_if(_SENT),
                "delivered": _count_if(_DELIVERED), "read": _count_if(["read"]),
                "failed": _count_if(["failed"]),
            }},
        ])  # fmt: skip
        names = await self._names([str(row["_id"]) for row in rows])
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

    async def _names(self, ids: list[str]) -> dict[str, str]:
        oids = [oid for i in ids if (oid := to_object_id(i)) is not None]
        if not oids:
            return {}
        rows = await self._campaigns.aggregate(
            [{"$match": {"_id": {"$in": oids}}}, {"$project": {"name": 1}}]
        )
        return {str(row["_id"]): str(row["name"]) for row in rows if row.get("name")}
