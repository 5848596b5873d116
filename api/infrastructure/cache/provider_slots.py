"""`ProviderSlots` adapter: a sorted set per key in Redis (`parley:slots:{key}`), members
the holders, scores when their slot runs out (server time, ms); one Lua script drops the
run-out ones and takes a slot if fewer than `limit` remain, so two workers never both take
the last one. The key expires with its last slot."""

from __future__ import annotations

import math

from redis.asyncio import Redis

from api.infrastructure.cache.redis import cache_unavailable_on_error

SLOTS_PREFIX = "parley:slots:"
# Lua: a slot of `slot_key` for `holder` (`limit`, held `hold_ms`; locals set before it)
# unless `limit` others hold one; `slot` is then 1, else 0. Shared with the send rate's
# script that takes a token only once the slot is had (`RedisSendRateLimiter`).
SLOT_LUA = """
local clock = redis.call('time')
local slot_now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('zremrangebyscore', slot_key, '-inf', slot_now)
local slot = 1
if redis.call('zscore', slot_key, holder) == false
   and redis.call('zcard', slot_key) >= limit then
  slot = 0
else
  redis.call('zadd', slot_key, slot_now + hold_ms, holder)
  redis.call('pexpire', slot_key, hold_ms)
end
"""
_ACQUIRE = (
    "local slot_key, holder, limit, hold_ms = KEYS[1], ARGV[1], tonumber(ARGV[2]), "
    "tonumber(ARGV[3])" + SLOT_LUA + "return slot"
)


class RedisProviderSlots:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def acquire(self, key: str, holder: str, *, limit: int, hold_seconds: float) -> bool:
        hold_ms = max(1, math.ceil(hold_seconds * 1000))
        with cache_unavailable_on_error():
            taken = await self._redis.eval(_ACQUIRE, 1, SLOTS_PREFIX + key, holder, limit, hold_ms)
        return bool(taken)

    async def release(self, key: str, holder: str) -> None:
        with cache_unavailable_on_error():
            await self._redis.zrem(SLOTS_PREFIX + key, holder)
