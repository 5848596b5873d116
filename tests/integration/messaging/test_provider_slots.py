"""`RedisProviderSlots` against a real Redis: a cap per key, atomic under concurrency,
freed on release or when a holder's time runs out."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from api.infrastructure.cache.provider_slots import RedisProviderSlots


async def test_at_most_limit_holders_at_once(redis_client: Redis) -> None:
    slots = RedisProviderSlots(redis_client)
    taken = await asyncio.gather(
        *(slots.acquire("channel:a", f"m{n}", limit=2, hold_seconds=60) for n in range(10))
    )
    assert sum(taken) == 2
    assert await slots.acquire("channel:b", "m0", limit=2, hold_seconds=60)  # another key
    holder = f"m{taken.index(True)}"
    assert await slots.acquire("channel:a", holder, limit=2, hold_seconds=60)  # its own again
    await slots.release("channel:a", holder)
    assert await slots.acquire("channel:a", "late", limit=2, hold_seconds=60)
    assert not await slots.acquire("channel:a", "later", limit=2, hold_seconds=60)


async def test_a_dead_holders_slot_runs_out(redis_client: Redis) -> None:
    slots = RedisProviderSlots(redis_client)
    assert await slots.acquire("channel:c", "dead", limit=1, hold_seconds=0.2)
    assert not await slots.acquire("channel:c", "next", limit=1, hold_seconds=60)
    deadline = asyncio.get_running_loop().time() + 5
    while not await slots.acquire("channel:c", "next", limit=1, hold_seconds=60):
        assert asyncio.get_running_loop().time() < deadline, "the dead holder's slot stayed"
        await asyncio.sleep(0.05)
