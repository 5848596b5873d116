"""`RateLimiter` adapter on Redis: fixed windows counted under `parley:rl:{key}`.

One Lua call per hit increments the counter and gives a new counter its expiry. (`EXPIRE
NX` needs Redis 7; the embedded and test servers run Redis 6.2.) The script also heals a
counter that somehow lost its expiry, so no key can lock anyone out forever.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from api.domain.identity.auth import RateDecision
from api.infrastructure.cache.redis import cache_unavailable_on_error

_PREFIX = "parley:rl:"
_HIT = """
local count = redis.call('incr', KEYS[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
  redis.call('expire', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1]) * 1000
end
return {count, ttl}
"""


class RedisRateLimiter:
    """Counts hits per key and window; over the limit, says how long to wait."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        with cache_unavailable_on_error():
            count, ttl_ms = await self._redis.eval(_HIT, 1, _PREFIX + key, window_seconds)
        if int(count) <= limit:
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after=max(1, math.ceil(int(ttl_ms) / 1000)))

    async def reset(self, key: str) -> None:
        with cache_unavailable_on_error():
            await self._redis.delete(_PREFIX + key)

    async def count(self, key: str) -> int:
        with cache_unavailable_on_error():
            value = await self._redis.get(_PREFIX + key)
        return int(value) if value is not None else 0
