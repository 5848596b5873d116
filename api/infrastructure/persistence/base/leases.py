"""Records a job writes a file for (contact exports, conversation transcripts): claiming
one for one run under a lease (one conditional update on its id, so two runs never both
hold it), and the sweep's cross-tenant read of those whose file is due for deletion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pymongo import ASCENDING

from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantScopedRepository,
    to_object_id,
)


async def claim_under_lease(
    scoped: TenantScopedRepository[Any],
    record_id: str,
    *,
    queued: str,
    running: str,
    at: datetime,
    lease_until: datetime,
) -> bool:
    """Mark the record `running` (`started_at`, `lease_until`, `attempts` + 1) when it is
    `queued`, or `running` under a lease that ran out before `at` (its worker died);
    False otherwise (finished, or held by a live run, or no such record in the tenant)."""
    oid = to_object_id(record_id)
    if oid is None:
        return False
    update: dict[str, dict[str, Any]] = {
        "$set": {"status": running, "started_at": at, "lease_until": lease_until},
        "$inc": {"attempts": 1},
    }
    # Queued, else running under a lease that ran out: two plain conditions rather than
    # `$or`, which the embedded server answers with a scan.
    for condition in ({"status": queued}, {"status": running, "lease_until": {"$lt": at}}):
        if await scoped.apply_where({"_id": oid, **condition}, update):
            return True
    return False


async def due_for_purge(
    document: type[Document], at: datetime, limit: int
) -> list[tuple[str, str]]:
    """`(tenant_id, id)` of at most `limit` records of `document` whose `purge_at` is `at`
    or earlier, earliest first, in every tenant (platform-level by design: read-only, ids
    only; the field is set only while a file is to be deleted, so the range stays small)."""
    collection = document.get_pymongo_collection()
    with database_errors():
        cursor = (
            collection.find({"purge_at": {"$lte": at}}, {TENANT_FIELD: 1})
            .sort("purge_at", ASCENDING)
            .limit(limit)
        )
        return [(row[TENANT_FIELD], str(row["_id"])) async for row in cursor]
