"""Writes to several tenant-scoped collections in one round trip.

MongoDB 8.0's `bulkWrite` command takes inserts and updates of several collections at
once. Where a use case makes independent writes together (an AI answer's reply, its
conversation's count and its usage), one command instead of one each saves each
command's cost twice: the driver's (~0.25 ms of CPU in the API process) and the
server's (SecantusDB, the embedded default, spends ~0.4 ms a command before it writes;
measured in bench/README.md, "AI streaming, fourth pass"). Each step goes through its
own repository's `scope` and stamp, as that repository's own writes do, and every step
is checked before anything is sent. The steps are unordered and independent: one
refused (a unique index: `Conflict`) does not stop the others. A server without the
command (before 8.0) gets one command per step instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.errors import (
    BulkWriteError,
    ClientBulkWriteException,
    InvalidOperation,
    WriteError,
)
from pymongo.results import ClientBulkWriteResult

from api.domain.errors import Conflict
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import TenantScopedRepository
from api.infrastructure.persistence.base.writes import InsertOp, UpdateOp, translated_writes

_DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Step:
    """One write of a set: an insert or an update of one repository's collection."""

    repository: TenantScopedRepository[Any]
    operation: InsertOp | UpdateOp


@dataclass(frozen=True)
class Done:
    """What one step did: `matched` (an update matched or upserted a document, an insert
    inserted it), or its own `error` (the others went through)."""

    matched: bool = False
    error: Exception | None = None


def _refused(error: dict[str, Any]) -> Exception:
    if error.get("code") == _DUPLICATE_KEY:
        return Conflict("A resource with these unique values already exists.")
    return WriteError(str(error.get("errmsg", "")), error.get("code"), error)


def _outcome(result: ClientBulkWriteResult | None, index: int) -> Done:
    if result is None:
        return Done()
    if index in result.insert_results:
        return Done(matched=True)
    updated = result.update_results.get(index)
    return Done(
        matched=updated is not None
        and (updated.matched_count > 0 or updated.upserted_id is not None)
    )


async def write_together(steps: Sequence[Step]) -> list[Done]:
    """Run `steps` in one `bulkWrite` command; what each did, in order. A failure of the
    whole command (the database unreachable: `ServiceUnavailable`) raises."""
    if not steps:
        return []
    requests = [step.repository.client_request(step.operation) for step in steps]
    client = steps[0].repository.client()
    try:
        with database_errors():
            result = await client.bulk_write(requests, ordered=False, verbose_results=True)
    except InvalidOperation as exc:
        if "8.0+" not in str(exc):  # the driver's refusal for a server before 8.0
            raise
        return await _one_by_one(steps)
    except ClientBulkWriteException as exc:
        if isinstance(exc.error, BaseException):
            with database_errors():
                raise exc.error from exc
        if exc.error is not None or exc.write_concern_errors:
            raise
        errors: list[Any] = list(exc.write_errors or [])  # dicts, whatever the stubs say
        refused = {int(e["idx"]): _refused(e) for e in errors}
        partial = exc.partial_result
        return [
            Done(error=refused[i]) if i in refused else _outcome(partial, i)
            for i in range(len(steps))
        ]
    return [_outcome(result, i) for i in range(len(steps))]


async def _one_by_one(steps: Sequence[Step]) -> list[Done]:
    """The steps as one command each, concurrently (a server without `bulkWrite`)."""

    async def one(step: Step) -> Done:
        try:
            with translated_writes():
                outcome = await step.repository.bulk_write([step.operation])
        except (Conflict, BulkWriteError) as exc:
            return Done(error=exc)
        return Done(matched=bool(outcome.inserted or outcome.matched or outcome.upserted))

    return list(await asyncio.gather(*(one(step) for step in steps)))
