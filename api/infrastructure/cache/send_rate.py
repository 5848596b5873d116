"""`SendRateLimiter` adapter: a token bucket per provider account in Redis, shared by every
worker process, taken atomically by one Lua script.

The bucket (`parley:send-rate:{bucket}`, a hash of `tokens` and `at`, the time of the last
refill in milliseconds) refills at `rate` tokens per second up to `capacity`. One call
refills it for the time passed, takes a token when there is one, and otherwise says how
many milliseconds until there is. `take_up_to` does the same for several buckets and
several tokens at once (a campaign's own bucket and its number's, shared with the inbox):
as many tokens as the emptiest bucket holds are taken from each, in one script, so two
workers never take the same tokens. The time comes from the `Clock` port (a clock that went
backwards counts as no time passed), so tests drive the bucket without sleeping. The key
expires once the bucket would be full again, so idle accounts leave nothing behind.
`hold` empties a bucket for a while (a provider's `retry_after`): no token for `seconds`.
`take_in_slot` first takes one of a provider's slots (`RedisProviderSlots`' sorted set and
rules) and `take`s only once the slot is had, in one script: a send's one round trip for
both, and a send that finds the slots taken spends no token.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from api.domain.clock import Clock
from api.domain.messaging.outbound import RateLimit, Slot
from api.infrastructure.cache.provider_slots import SLOT_LUA, SLOTS_PREFIX
from api.infrastructure.cache.redis import cache_unavailable_on_error

_PREFIX = "parley:send-rate:"
# The bucket of KEYS[1], refilled up to now (ARGV: rate, capacity, now in ms).
_REFILLED = """
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
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
"""
_TAKE = (
    _REFILLED
    + """
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('pexpire', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return wait
"""
)

_HOLD = (
    _REFILLED
    + """
local seconds = tonumber(ARGV[4])
tokens = math.min(tokens, 1 - seconds * rate)
redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('pexpire', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return 0
"""
)

# The slot of KEYS[2] first (ARGV 4-6: holder, limit, hold in ms): none left, -1 and no
# token spent; else `_TAKE` of KEYS[1].
_TAKE_IN_SLOT = (
    "local slot_key, holder, limit, hold_ms = KEYS[2], ARGV[4], tonumber(ARGV[5]), "
    "tonumber(ARGV[6])" + SLOT_LUA + "if slot == 0 then return -1 end" + _TAKE
)

_TAKE_UP_TO = """
local wanted = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local levels = {}
local granted = wanted
for i = 1, #KEYS do
  local rate = tonumber(ARGV[1 + 2 * i])
  local capacity = tonumber(ARGV[2 + 2 * i])
  local state = redis.call('hmget', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if tokens == nil or at == nil then
    tokens = capacity
    at = now
  end
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
  levels[i] = {tokens, math.max(now, at), rate, capacity}
  granted = math.min(granted, math.floor(tokens))
end
granted = math.max(0, granted)
local wait = 0
for i = 1, #KEYS do
  local tokens = levels[i][1] - granted
  local rate = levels[i][3]
  if granted < wanted and tokens < 1 then
    wait = math.max(wait, math.ceil((1 - tokens) * 1000 / rate))
  end
  redis.call('hset', KEYS[i], 'tokens', tostring(tokens), 'at', tostring(levels[i][2]))
  redis.call('pexpire', KEYS[i], math.ceil((levels[i][4] - tokens) * 1000 / rate) + 1000)
end
return {granted, wait}
"""


class RedisSendRateLimiter:
    def __init__(self, redis: Redis, clock: Clock) -> None:
        self._redis = redis
        self._clock = clock

    async def take(self, bucket: str, *, rate: float, capacity: int) -> float:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        now_ms = math.floor(self._clock.now().timestamp() * 1000)
        with cache_unavailable_on_error():
            wait_ms = await self._redis.eval(_TAKE, 1, _PREFIX + bucket, rate, capacity, now_ms)
        return int(wait_ms) / 1000

    async def take_in_slot(
        self, bucket: str, *, rate: float, capacity: int, slot: Slot
    ) -> float | None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        now_ms = math.floor(self._clock.now().timestamp() * 1000)
        hold_ms = max(1, math.ceil(slot.hold_seconds * 1000))
        keys = (_PREFIX + bucket, SLOTS_PREFIX + slot.key)
        with cache_unavailable_on_error():
            wait_ms = await self._redis.eval(
                _TAKE_IN_SLOT, 2, *keys, rate, capacity, now_ms, slot.holder, slot.limit, hold_ms
            )
        return None if int(wait_ms) < 0 else int(wait_ms) / 1000

    async def hold(self, bucket: str, *, seconds: float, rate: float, capacity: int) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        now_ms = math.floor(self._clock.now().timestamp() * 1000)
        with cache_unavailable_on_error():
            await self._redis.eval(_HOLD, 1, _PREFIX + bucket, rate, capacity, now_ms, seconds)

    async def take_up_to(self, limits: list[RateLimit], count: int) -> tuple[int, float]:
        if not limits or count < 1:
            raise ValueError("take at least one token from at least one bucket")
        now_ms = math.floor(self._clock.now().timestamp() * 1000)
        keys = [_PREFIX + limit.bucket for limit in limits]
        rates = [str(value) for limit in limits for value in (limit.rate, limit.capacity)]
        with cache_unavailable_on_error():
            granted, wait_ms = await self._redis.eval(
                _TAKE_UP_TO, len(keys), *keys, count, now_ms, *rates
            )
        return int(granted), int(wait_ms) / 1000
