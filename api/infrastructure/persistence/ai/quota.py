"""The daily token quota's holds: one document per tenant and UTC day, changed atomically.

`committed` is what the day has spent (`spent`, as the usage ledger counts it) plus what
running calls hold (`holds`, by hold id). A hold is one conditional update: `committed`
grows only while it stays within the quota (`$lte`), or, when fewer tokens are left than
were wanted, only if nobody changed it since it was read (compare-and-set on
`committed`). Settling removes the hold and adds what was used, in one update. A hold
whose `until` has passed (its process died before settling) is reclaimed, one atomic
update each, when a hold does not fit; the whole document expires two days after its day.
The day's document starts from the ledger's total, so usage before it (or counted while
no quota was set) still counts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, Field
from pymongo import IndexModel

from api.common.clock import utcnow
from api.domain.ai.values import QuotaSettlement
from api.domain.errors import Conflict, ServiceUnavailable
from api.infrastructure.persistence.ai.usage import MongoUsageLedger
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)
from api.infrastructure.persistence.base.together import Step
from api.infrastructure.persistence.base.writes import Update, UpdateOp

ATTEMPTS = 50  # compare-and-set rounds before giving up (each lost round is another's win)
RACED = -1


class QuotaHold(BaseModel):
    tokens: int
    until: datetime


class QuotaDayDocument(TenantOwnedDocument):
    day: str
    committed: int = 0  # spent + the held tokens
    spent: int = 0
    holds: dict[str, QuotaHold] = Field(default_factory=dict)
    expires_at: datetime

    class Settings:
        name = "ai_quota_days"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("day", 1)], name="tenant_day", unique=True),
            IndexModel([("expires_at", 1)], name="expires_at_ttl", expireAfterSeconds=0),
        ]


def _expiry(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day) + timedelta(days=3), datetime.min.time(), UTC)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _settling(settlement: QuotaSettlement) -> tuple[dict[str, Any], Update] | None:
    """The conditional update that replaces a hold by what was used (None: nothing)."""
    day, used = settlement.day, settlement.used
    if settlement.held:
        key = f"holds.{settlement.hold_id}"
        return (
            {"day": day, key: {"$exists": True}},
            {"$unset": {key: ""}, "$inc": {"committed": used - settlement.held, "spent": used}},
        )
    if used:  # no hold (no quota then): the day's document, if any, counts it
        return {"day": day}, _spent(used)
    return None


def _spent(used: int) -> Update:
    return {"$inc": {"committed": used, "spent": used}}


class MongoQuotaHolds:
    """`QuotaHolds` adapter, within the current tenant (fail closed: `TenantRequired`)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(QuotaDayDocument)
        self._ledger = MongoUsageLedger()

    async def hold(
        self, *, day: str, hold_id: str, want: int, least: int, quota: int, until: datetime
    ) -> int | None:
        for _ in range(ATTEMPTS):
            # The usual case, one round trip: all of `want` fits.
            if await self._take(day, hold_id, want, until, {"$lte": quota - want}):
                return want
            found = await self._scoped.find({"day": day}, limit=1)
            if not found:
                first = await self._first(day, hold_id, want, least, quota, until)
                if first != RACED:
                    return first
                continue  # another call created the day meanwhile
            current = found[0]
            if await self._reclaim(current):
                continue
            grant = min(want, quota - current.committed)
            if grant < least:
                return None
            if await self._take(day, hold_id, grant, until, current.committed):
                return grant
        raise ServiceUnavailable("AI quota", detail="The token quota is too busy; try again.")

    async def settle(self, *, day: str, hold_id: str, held: int, used: int) -> None:
        settlement = QuotaSettlement(day, hold_id, held, used)
        write = _settling(settlement)
        if write is not None:
            matched = await self._scoped.apply_where(*write)
            await self.settled(settlement, matched=matched)

    def settle_step(self, settlement: QuotaSettlement) -> Step | None:
        """`settle`'s write as one step of a set written together (see `together`), to be
        followed by `settled` (None: nothing to write, no hold and nothing used)."""
        write = _settling(settlement)
        return None if write is None else Step(self._scoped, UpdateOp(*write))

    async def settled(self, settlement: QuotaSettlement, *, matched: bool) -> None:
        """After `settle_step`'s write: a hold no longer there (reclaimed, its deadline
        passed) still counts what was used."""
        if settlement.held and not matched and settlement.used:
            await self._scoped.apply_where({"day": settlement.day}, _spent(settlement.used))

    async def _take(
        self, day: str, hold_id: str, tokens: int, until: datetime, committed: object
    ) -> bool:
        return await self._scoped.apply_where(
            {"day": day, "committed": committed},
            {
                "$inc": {"committed": tokens},
                "$set": {f"holds.{hold_id}": {"tokens": tokens, "until": until}},
            },
        )

    async def _first(
        self, day: str, hold_id: str, want: int, least: int, quota: int, until: datetime
    ) -> int | None:
        """Create the day's document with this hold: the tokens held, None when not even
        `least` fits, `RACED` when another call created it meanwhile."""
        spent = await self._ledger.tenant_total(day)
        grant = min(want, quota - spent)
        if grant < least:
            return None
        document = QuotaDayDocument(
            day=day, committed=spent + grant, spent=spent,
            holds={hold_id: QuotaHold(tokens=grant, until=until)}, expires_at=_expiry(day),
        )  # fmt: skip
        try:
            await self._scoped.insert(document)
        except Conflict:
            return RACED
        return grant

    async def _reclaim(self, current: QuotaDayDocument) -> bool:
        """Release the holds that outlived their deadline; True when one was released."""
        now = utcnow()
        released = False
        for hold_id, hold in current.holds.items():
            if _aware(hold.until) >= now:
                continue
            key = f"holds.{hold_id}"
            released |= await self._scoped.apply_where(
                {"day": current.day, key: {"$exists": True}},
                {"$unset": {key: ""}, "$inc": {"committed": -hold.tokens}},
            )
        return released
