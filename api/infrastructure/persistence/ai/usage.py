"""The AI usage ledger: tokens per tenant, UTC day, user and model, incremented in place."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import IndexModel

from api.domain.ai.entities import UsageRow
from api.domain.ai.values import ModelInfo, Provider, TokenUsage
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
)
from api.infrastructure.persistence.base.together import Step
from api.infrastructure.persistence.base.writes import Update, UpdateOp


class UsageDocument(TenantOwnedDocument):
    """Tokens of one UTC day, user and model (incremented in place)."""

    day: str
    user_id: str
    model: str
    provider: Provider
    input_tokens: int = 0
    output_tokens: int = 0
    messages: int = 0

    class Settings:
        name = "ai_usage"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("day", 1), ("user_id", 1), ("model", 1), ("provider", 1)],
                name="tenant_day_user_model",
                unique=True,
            ),
        ]


def _entry(
    day: str, user_id: str, model: ModelInfo, usage: TokenUsage
) -> tuple[dict[str, Any], Update]:
    """The ledger's row of a use (its filter) and what the use adds to it."""
    key = tenant_first(day=day, user_id=user_id, model=model.id, provider=model.provider.value)
    increments = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "messages": 1,
    }
    return key, {"$inc": increments}


class MongoUsageLedger:
    """`UsageLedger` adapter, within the current tenant (fail closed: `TenantRequired`)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(UsageDocument)

    async def add(self, *, day: str, user_id: str, model: ModelInfo, usage: TokenUsage) -> None:
        # Atomic `$inc` with upsert: the first use of the day creates the row (stamped);
        # two first uses racing are retried once by the scoped repository.
        await self._scoped.upsert(*_entry(day, user_id, model, usage))

    def add_step(self, *, day: str, user_id: str, model: ModelInfo, usage: TokenUsage) -> Step:
        """`add` as one step of a set written together (see `together`). Two first uses
        of a day racing: the loser's step is refused as a `Conflict`; `add` then counts
        it."""
        key, update = _entry(day, user_id, model, usage)
        return Step(self._scoped, UpdateOp(key, update, upsert=True))

    async def tenant_total(self, day: str) -> int:
        rows = await self._scoped.aggregate(
            [
                {"$match": {"day": day}},
                {
                    "$group": {
                        "_id": None,
                        "total": {"$sum": {"$add": ["$input_tokens", "$output_tokens"]}},
                    }
                },
            ]
        )
        return int(rows[0]["total"]) if rows else 0

    async def rows(self, *, since: str, until: str, user_id: str | None) -> list[UsageRow]:
        # Days by name: SecantusDB answers a range on the second key of the compound index
        # with nothing (real MongoDB is fine either way); a year is at most 366 names.
        first, last = date.fromisoformat(since), date.fromisoformat(until)
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        filter: dict[str, Any] = tenant_first(day={"$in": days})
        if user_id is not None:
            filter["user_id"] = user_id
        found = await self._scoped.find(
            filter,
            sort=[
                ("day", SortDirection.ASCENDING),
                ("user_id", SortDirection.ASCENDING),
                ("model", SortDirection.ASCENDING),
            ],
        )
        return [
            UsageRow(
                day=d.day, user_id=d.user_id, model=d.model, provider=d.provider,
                input_tokens=d.input_tokens, output_tokens=d.output_tokens, messages=d.messages,
            )
            for d in found
        ]  # fmt: skip
