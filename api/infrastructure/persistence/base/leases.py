"""Claiming a record for one run of a job under a lease (contact exports, conversation
transcripts): one conditional update on its id, so two runs never both hold it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.infrastructure.persistence.base.scoped import TenantScopedRepository, to_object_id


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
