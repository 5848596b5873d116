"""`CachingPlans`: the plans the gate reads kept in process for a TTL, a change made
through the process seen at once, and a read that raced a change not kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from api.domain.plans import Plan, PlanLimits
from api.infrastructure.persistence.plans.plans import CachingPlans

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def plan(plan_id: str, name: str, *, seats: int | None = None, default: bool = False) -> Plan:
    return Plan(
        id=plan_id, name=name, limits=PlanLimits(seats=seats), is_default=default,
        created_at=EPOCH, updated_at=EPOCH,
    )  # fmt: skip


class Stored:
    """The plans the database holds, counting reads; a read may be held by a test."""

    def __init__(self) -> None:
        self.plans: dict[str, Plan] = {}
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def _read(self, found: Plan | None) -> Plan | None:
        """`found` (what the database held when read), answered once the gate opens."""
        self.reads += 1
        if self.gate is not None:
            self.reading.set()
            await self.gate.wait()
        return found

    async def list(self, *, skip: int, limit: int) -> tuple[list[Plan], int]:
        self.reads += 1
        return list(self.plans.values())[skip : skip + limit], len(self.plans)

    async def get(self, plan_id: str) -> Plan | None:
        return await self._read(self.plans.get(plan_id))

    async def get_by_name(self, name: str) -> Plan | None:
        named = (p for p in self.plans.values() if p.name.lower() == name.lower())
        return await self._read(next(named, None))

    async def default(self) -> Plan | None:
        return await self._read(next((p for p in self.plans.values() if p.is_default), None))

    async def add(self, new: Plan) -> Plan:
        self.plans[new.id or ""] = new
        return new

    async def update(self, plan_id: str, changes: dict[str, object]) -> Plan | None:
        found = self.plans.get(plan_id)
        if found is None:
            return None
        self.plans[plan_id] = found.model_copy(update=changes)
        return self.plans[plan_id]

    async def delete(self, plan_id: str) -> bool:
        return self.plans.pop(plan_id, None) is not None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_default_plan_is_read_once_per_ttl_and_none_is_kept_too() -> None:
    stored, clock = Stored(), Clock()
    cache = CachingPlans(stored, ttl_seconds=5, clock=clock)
    assert await cache.default() is None
    assert await cache.default() is None
    assert stored.reads == 1
    # Flagged elsewhere (another process): seen once the TTL has run out.
    stored.plans["p1"] = plan("p1", "Free", seats=1, default=True)
    clock.now += 4.9
    assert await cache.default() is None
    clock.now += 0.2
    found = await cache.default()
    assert found is not None
    assert found.limits.seats == 1
    assert stored.reads == 2


async def test_plans_by_id_and_name_are_kept_apart() -> None:
    stored, clock = Stored(), Clock()
    stored.plans["p1"] = plan("p1", "Free", seats=1)
    stored.plans["p2"] = plan("p2", "Pro", seats=10)
    cache = CachingPlans(stored, ttl_seconds=5, clock=clock)
    for _ in range(2):
        assert (await cache.get("p1")) == stored.plans["p1"]
        assert (await cache.get("p2")) == stored.plans["p2"]
        assert (await cache.get("p3")) is None
        assert (await cache.get_by_name("PRO")) == stored.plans["p2"]
    assert stored.reads == 4


async def test_a_change_through_the_process_applies_at_once() -> None:
    stored, clock = Stored(), Clock()
    stored.plans["p1"] = plan("p1", "Free", seats=1)
    cache = CachingPlans(stored, ttl_seconds=60, clock=clock)
    assert await cache.default() is None
    assert (await cache.get("p1")) == stored.plans["p1"]
    await cache.update("p1", {"is_default": True, "limits": PlanLimits(seats=2)})
    found = await cache.default()
    assert found is not None
    assert found.limits.seats == 2
    assert (await cache.get("p1")) == found
    await cache.add(plan("p2", "Pro", seats=10))
    assert (await cache.get("p2")) is not None
    await cache.delete("p2")
    assert (await cache.get("p2")) is None


async def test_a_read_that_raced_a_change_is_not_kept() -> None:
    stored, clock = Stored(), Clock()
    cache = CachingPlans(stored, ttl_seconds=60, clock=clock)
    stored.gate = asyncio.Event()
    reading = asyncio.create_task(cache.default())
    await stored.reading.wait()
    await cache.add(plan("p1", "Free", seats=1, default=True))
    stored.gate.set()
    assert await reading is None  # read before the change: answered, not kept
    stored.gate = None
    found = await cache.default()
    assert found is not None
    assert found.id == "p1"


async def test_with_no_ttl_every_read_goes_to_the_store() -> None:
    stored, clock = Stored(), Clock()
    cache = CachingPlans(stored, ttl_seconds=0, clock=clock)
    await cache.default()
    await cache.default()
    assert stored.reads == 2
