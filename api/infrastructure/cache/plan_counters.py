"""`UsageCounters` adapter: plan usage counters in Redis, `parley:plan:{key}`.

A reservation is one Lua script: it adds what fits under the limit (at least `least`) or
nothing, so concurrent reservations never pass the limit together. A cold counter (never
written, expired, the server flushed) answers -2 and is seeded from the database with
`SET NX` (one seed wins), then the reservation runs again. Releases only touch a warm
counter (a cold one is seeded from the database, which already left out what failed).
Locks are `SET NX PX` with a random token, released by compare-and-delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable
from api.infrastructure.cache.redis import cache_unavailable_on_error

_PREFIX = "parley:plan:"
LOCK_MS = 10_000  # a lock's body is one count and one insert
LOCK_WAIT_SECONDS = 15.0
_POLL_SECONDS = 0.02
SEED_ATTEMPTS = 5

# KEYS[1] counter; ARGV amount, limit (-1: none), least -> {added, total} or {-2, 0} cold.
_RESERVE = """
local v = redis.call('GET', KEYS[1])
if not v then return {-2, 0} end
local used = tonumber(v)
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and used + want > limit then
  want = limit - used
  if want < tonumber(ARGV[3]) then return {0, used} end
end
return {want, redis.call('INCRBY', KEYS[1], want)}
"""
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECRBY', KEYS[1], ARGV[1]) end
return 0
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisUsageCounters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def reserve(
        self,
        key: str,
        amount: int,
        *,
        limit: int | None,
        least: int,
        seed: Callable[[], Awaitable[int]],
        ttl_seconds: int,
    ) -> tuple[int, int]:
        name = _PREFIX + key
        bound = -1 if limit is None else limit
        for _ in range(SEED_ATTEMPTS):
            with cache_unavailable_on_error():
                added, total = await self._redis.eval(_RESERVE, 1, name, amount, bound, least)
            if int(added) != -2:
                return int(added), int(total)
            counted = await seed()
            with cache_unavailable_on_error():
                await self._redis.set(name, counted, nx=True, ex=max(1, ttl_seconds))
        raise ServiceUnavailable("cache")

    async def release(self, key: str, amount: int) -> None:
        if amount <= 0:
            return
        with cache_unavailable_on_error():
            await self._redis.eval(_RELEASE, 1, _PREFIX + key, amount)

    async def peek(self, key: str) -> int | None:
        with cache_unavailable_on_error():
            value = await self._redis.get(_PREFIX + key)
        return None if value is None else int(value)

    async def first_time(self, key: str, ttl_seconds: int) -> bool:
        with cache_unavailable_on_error():
            return bool(await self._redis.set(_PREFIX + key, "1", nx=True, ex=max(1, ttl_seconds)))

    @asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        name, token = f"{_PREFIX}lock:{key}", uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_WAIT_SECONDS
        with cache_unavailable_on_error():
            while not await self._redis.set(name, token, nx=True, px=LOCK_MS):
                if loop.time() >= deadline:
                    raise ServiceUnavailable("cache", detail="The plan counter is busy.")
                await asyncio.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            with contextlib.suppress(RedisError):  # else it lapses after LOCK_MS
                await self._redis.eval(_UNLOCK, 1, name, token)
