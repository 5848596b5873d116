"""`SendRateLimiter` adapter: a token bucket per provider account in Redis, shared by every
worker process, taken atomically by one Lua script.

The bucket (`parley:send-rate:{bucket}`, a hash of `tokens` and `at`, the time of the last
refill in milliseconds) refills at `rate` tokens per second up to `capacity`. One call
refills it for the time passed, takes a token when there is one, and otherwise says how
many milliseconds until there is. The time comes from the `Clock` port (a clock that went
backwards counts as no time passed), so tests drive the bucket without sleeping. The key
expires once the bucket would be full again, so idle accounts leave nothing behind.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.clock import Clock
from api.domain.errors import ServiceUnavailable

_PREFIX = "parley:send-rate:"
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('hmget', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
local elapsed = math.max(0, now - at)
tokens = math.min(capacity, tokens + elapsed * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('pexpire', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return wait
"""


class RedisSendRateLimiter:
    def __init__(self, redis: Redis, clock: Clock) -> None:
        self._redis = redis
        self._clock = clock

    async def take(self, bucket: str, *, rate: float, capacity: int) -> float:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        now_ms = math.floor(self._clock.now().timestamp() * 1000)
        try:
            wait_ms = await self._redis.eval(_TAKE, 1, _PREFIX + bucket, rate, capacity, now_ms)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc
        return int(wait_ms) / 1000
