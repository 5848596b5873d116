"""The quota holds on a real Mongo-wire server: atomic under concurrency, seeded from the
usage ledger, settled, reclaimed after their deadline, per tenant."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from api.common.clock import utcnow
from api.domain.ai.values import ModelInfo, Provider, TokenUsage
from api.domain.errors import TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.quota import MongoQuotaHolds, QuotaDayDocument
from api.infrastructure.persistence.ai.usage import MongoUsageLedger

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
DAY = "2024-05-01"
LLAMA = ModelInfo(id="llama3.2:latest", provider=Provider.OLLAMA)


@pytest.fixture
def holds() -> MongoQuotaHolds:
    return MongoQuotaHolds()


async def committed(tenant: TenantId = TENANT_A) -> tuple[int, int, int]:
    found = await QuotaDayDocument.get_pymongo_collection().find_one(
        {"tenant_id": tenant, "day": DAY}
    )
    assert found is not None
    return found["committed"], found["spent"], len(found["holds"])


async def test_concurrent_holds_never_exceed_the_quota(holds: MongoQuotaHolds) -> None:
    async def one(n: int) -> int | None:
        with tenant_context(TENANT_A):
            return await holds.hold(
                day=DAY,
                hold_id=f"h{n}",
                want=30,
                least=5,
                quota=100,
                until=utcnow() + timedelta(hours=1),
            )

    granted = await asyncio.gather(*(one(n) for n in range(12)))
    taken = [g for g in granted if g is not None]
    # Three full holds, then the 10 left for one more (at least 5), then nothing.
    assert sorted(taken) == [10, 30, 30, 30]
    assert await committed() == (100, 0, 4)


async def test_a_day_starts_from_the_ledger_and_settles_to_what_was_used(
    holds: MongoQuotaHolds,
) -> None:
    with tenant_context(TENANT_A):
        await MongoUsageLedger().add(
            day=DAY, user_id="u1", model=LLAMA, usage=TokenUsage(input_tokens=40, output_tokens=20)
        )
        until = utcnow() + timedelta(hours=1)
        assert (
            await holds.hold(day=DAY, hold_id="h1", want=30, least=5, quota=100, until=until) == 30
        )
        assert await committed() == (90, 60, 1)
        await holds.settle(day=DAY, hold_id="h1", held=30, used=7)
        assert await committed() == (67, 67, 0)
        # Settling twice counts nothing twice: the hold is gone, the usage counted again
        # only as usage (as the ledger would).
        await holds.settle(day=DAY, hold_id="h1", held=30, used=0)
        assert await committed() == (67, 67, 0)
        # Usage without a hold (no quota at the time) still counts.
        await holds.settle(day=DAY, hold_id="none", held=0, used=3)
        assert await committed() == (70, 70, 0)
        assert (
            await holds.hold(day=DAY, hold_id="h2", want=31, least=31, quota=100, until=until)
            is None
        )
    with tenant_context(TENANT_B):  # another tenant's day is its own
        assert (
            await holds.hold(day=DAY, hold_id="h1", want=30, least=5, quota=30, until=until) == 30
        )
    assert await committed(TENANT_B) == (30, 0, 1)


async def test_a_hold_past_its_deadline_is_reclaimed(holds: MongoQuotaHolds) -> None:
    with tenant_context(TENANT_A):
        gone = utcnow() - timedelta(seconds=1)
        later = utcnow() + timedelta(hours=1)
        assert (
            await holds.hold(day=DAY, hold_id="dead", want=80, least=1, quota=100, until=gone) == 80
        )
        assert (
            await holds.hold(day=DAY, hold_id="live", want=15, least=1, quota=100, until=later)
            == 15
        )
        # 5 left: a call wanting 50 gets them back from the dead hold, not the live one.
        assert (
            await holds.hold(day=DAY, hold_id="new", want=50, least=10, quota=100, until=later)
            == 50
        )
        assert await committed() == (65, 0, 2)
        # The dead call's process comes back after all: its usage counts, once.
        await holds.settle(day=DAY, hold_id="dead", held=80, used=9)
        assert await committed() == (74, 9, 2)


async def test_holds_need_a_tenant(holds: MongoQuotaHolds) -> None:
    with pytest.raises(TenantRequired):
        await holds.hold(day=DAY, hold_id="h", want=1, least=1, quota=1, until=utcnow())
