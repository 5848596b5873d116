"""`ProviderSlots` adapter: a sorted set per key in Redis (`parley:slots:{key}`), members
the holders, scores when their slot runs out (server time, ms); one Lua script drops the
run-out ones and takes a slot if fewer than `limit` remain, so two workers never both take
the last one. The key expires with its last slot."""

from __future__ import annotations

import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable

_PREFIX = "parley:slots:"
_ACQUIRE = """
local time = redis.call('time')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zscore', KEYS[1], ARGV[1]) == false
   and redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('zadd', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('pexpire', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class RedisProviderSlots:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def acquire(self, key: str, holder: str, *, limit: int, hold_seconds: float) -> bool:
        hold_ms = max(1, math.ceil(hold_seconds * 1000))
        try:
            taken = await self._redis.eval(_ACQUIRE, 1, _PREFIX + key, holder, limit, hold_ms)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc
        return bool(taken)

    async def release(self, key: str, holder: str) -> None:
        try:
            await self._redis.zrem(_PREFIX + key, holder)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc
