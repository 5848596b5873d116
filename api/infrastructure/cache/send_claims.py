"""`SendClaims` adapter: one Redis string per claimed message (`parley:send-claim:{id}`),
holding `{until in ms}|{tenant id}`, taken and compared by Lua scripts so that two runs
never both hold it.

- `take`: no key, a new claim; the tenant's key whose `until` is past the caller's `now`
  (its run died), taken over (the value replaced); a live one, its `until`; another
  tenant's, nothing written. The key lives `until` + `_KEEP_AFTER_SECONDS` (server time):
  a claim whose time ran out stays there a while as it did in the database, so a run
  after it is a take-over (which reads the message again), not a new claim.
- `give_back`: compare (the tenant) and delete.
- `end_after`: compare and `PEXPIRE`: the claim ends that long after Redis stored the
  call, never sooner (Redis' own expiry, no timer in the process).
- `held`: one `MGET` of the keys (the sweep's check).

The claims are as durable as this Redis: a Redis restarted empty forgets the claims in
flight (see `api.infrastructure.persistence.messaging.messages`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from redis.asyncio import Redis

from api.domain.messaging.messages import ClaimOutcome, ClaimTake
from api.infrastructure.cache.redis import cache_unavailable_on_error

CLAIM_PREFIX = "parley:send-claim:"
# How long a claim whose time ran out is kept (then it is as if there never was one).
_KEEP_AFTER_SECONDS = 3600

# KEYS[1] the claim; ARGV: tenant, now (ms), until (ms), kept after until (ms).
_TAKE = """
local now = tonumber(ARGV[2])
local value = redis.call('get', KEYS[1])
local outcome = 'new'
if value then
  local cut = string.find(value, '|', 1, true)
  if string.sub(value, cut + 1) ~= ARGV[1] then
    return 'other'
  end
  local held = tonumber(string.sub(value, 1, cut - 1))
  if held > now then
    return held
  end
  outcome = 'taken'
end
local keep = math.max(tonumber(ARGV[3]) - now, 0) + tonumber(ARGV[4])
redis.call('set', KEYS[1], ARGV[3] .. '|' .. ARGV[1], 'px', keep)
return outcome
"""
# KEYS[1] the claim; ARGV: tenant, then (`_END_AFTER`) the delay in ms.
_TENANTS = """
local value = redis.call('get', KEYS[1])
if not value or string.sub(value, string.find(value, '|', 1, true) + 1) ~= ARGV[1] then
  return 0
end
"""
_GIVE_BACK = _TENANTS + "return redis.call('del', KEYS[1])"
_END_AFTER = _TENANTS + "return redis.call('pexpire', KEYS[1], ARGV[2])"

_OUTCOMES = {"new": ClaimOutcome.NEW, "taken": ClaimOutcome.TAKEN_OVER}


def _ms(at: datetime) -> int:
    return math.floor(at.timestamp() * 1000)


class RedisSendClaims:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._give_back = redis.register_script(_GIVE_BACK)
        self._end_after = redis.register_script(_END_AFTER)

    async def take(
        self, message_id: str, tenant_id: str, *, now: datetime, until: datetime
    ) -> ClaimTake:
        args = (tenant_id, _ms(now), _ms(until), _KEEP_AFTER_SECONDS * 1000)
        with cache_unavailable_on_error():
            found = await self._take(keys=[CLAIM_PREFIX + message_id], args=args)
        if isinstance(found, int):
            return ClaimTake(
                outcome=ClaimOutcome.HELD, held_until=datetime.fromtimestamp(found / 1000, UTC)
            )
        return ClaimTake(outcome=_OUTCOMES.get(str(found), ClaimOutcome.OTHER_TENANT))

    async def give_back(self, message_id: str, tenant_id: str) -> None:
        with cache_unavailable_on_error():
            await self._give_back(keys=[CLAIM_PREFIX + message_id], args=[tenant_id])

    async def end_after(self, message_id: str, tenant_id: str, seconds: float) -> None:
        delay_ms = max(1, math.ceil(seconds * 1000))
        with cache_unavailable_on_error():
            await self._end_after(keys=[CLAIM_PREFIX + message_id], args=[tenant_id, delay_ms])

    async def held(self, message_ids: list[str], *, now: datetime) -> set[str]:
        if not message_ids:
            return set()
        with cache_unavailable_on_error():
            values = await self._redis.mget([CLAIM_PREFIX + oid for oid in message_ids])
        now_ms = _ms(now)
        return {
            message_id
            for message_id, value in zip(message_ids, values, strict=True)
            if value is not None and int(str(value).split("|", 1)[0]) > now_ms
        }
