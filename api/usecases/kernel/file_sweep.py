"""The files jobs write for users to download (contact exports, conversation transcripts):
one sweep deleting the files of every kind of record that holds a file until a date, and
one wording of why such a job failed.

Each record is handled within its own tenant: the file first, then the record's mark
(`purged`), so a failure leaves it due for the next sweep. At most `max_batches` batches of
`batch` records per run; a batch in which nothing moved ends the run (what is left is
retried next time rather than read again now).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from api.domain.errors import ParleyError
from api.domain.tenancy import TenantId, tenant_context

SWEEP_BATCH = 100
SWEEP_MAX_BATCHES = 50

DueRecords = Callable[[datetime, int], Awaitable[list[tuple[str, str]]]]  # (tenant, record)
FileOf = Callable[[str], Awaitable[str | None]]
RemoveFile = Callable[[str], Awaitable[None]]
MarkPurged = Callable[[str, str], Awaitable[bool]]


async def sweep_expired_files(
    now: datetime,
    *,
    due: DueRecords,
    file_of: FileOf,
    remove: RemoveFile,
    purged: MarkPurged,
    batch: int = SWEEP_BATCH,
    max_batches: int = SWEEP_MAX_BATCHES,
) -> int:
    """Delete the files of the records `due` lists (cross-tenant, `(tenant_id,
    record_id)`); `file_of` reads a record's file id within its tenant, `remove` deletes
    the file, `purged` marks the record. How many files were deleted."""
    deleted = 0
    for _ in range(max_batches):
        found = await due(now, batch)
        moved = 0
        for tenant_id, record_id in found:
            with tenant_context(TenantId(tenant_id)):
                file_id = await file_of(record_id)
                if file_id is None:
                    continue
                await remove(file_id)
                if await purged(record_id, file_id):
                    moved += 1
        deleted += moved
        if len(found) < batch or moved == 0:
            break
    return deleted


def failure_reason(exc: BaseException, what: str) -> str:
    """Why a job writing a file (`what`: "export", "transcript") failed, for the user who
    asked: a Parley error's own words (never a secret), else only that something broke
    (the details are in the logs)."""
    if isinstance(exc, ParleyError):
        return exc.detail[:500]
    if isinstance(exc, TimeoutError | asyncio.CancelledError):
        return f"The {what} took too long."
    return f"The {what} failed unexpectedly; see the logs."
