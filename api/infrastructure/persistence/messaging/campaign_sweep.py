"""`CampaignRunSweep` adapter: the sweep's cross-tenant read of runs whose send job
stopped beating (platform-level by design; read-only, ids only), served by the runs'
(status, lease_until) index: one equality-and-range read per status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.domain.messaging.campaign_sending import StaleRun
from api.domain.messaging.campaigns import RunStatus
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import TENANT_FIELD
from api.infrastructure.persistence.messaging.campaigns import CampaignRunDocument

_HELD = (RunStatus.PAUSED, RunStatus.CANCELLED)  # their job died while it held them


class PlatformCampaignRunSweep:
    async def stale(self, now: datetime, limit: int) -> list[StaleRun]:
        collection = CampaignRunDocument.get_pymongo_collection()
        sending = RunStatus.SENDING.value
        filters: list[dict[str, Any]] = [
            {"status": sending, "lease_until": None},
            {"status": sending, "lease_until": {"$lt": now}},
            *({"status": s.value, "lease_until": {"$lt": now}} for s in _HELD),
        ]
        found: list[StaleRun] = []
        with database_errors():
            for filter in filters:
                cursor = collection.find(filter, {TENANT_FIELD: 1, "status": 1}).limit(
                    limit - len(found)
                )
                found += [
                    StaleRun(tenant_id=row[TENANT_FIELD], run_id=str(row["_id"]),
                             status=RunStatus(row["status"]))
                    async for row in cursor
                ]  # fmt: skip
                if len(found) >= limit:
                    break
        return found
