"""`PresenceStore` on Redis: one hash per tenant, `parley:presence:{tenant_id}`, a field
per agent holding `{status, since, expires}` (epoch milliseconds).

Expiry is read against the caller's clock (`AgentPresence.at`), not Redis's TTL, so the
rule is the same in every process and tests move time without waiting; the hash itself
expires a day after its last write, so a tenant nobody uses leaves nothing behind.
A refresh is one script (check unexpired, extend), atomic against a concurrent change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from redis.asyncio import Redis

from api.domain.messaging.presence import AgentPresence, PresenceStatus
from api.domain.tenancy import current_tenant
from api.infrastructure.cache.redis import cache_unavailable_on_error

PRESENCE_PREFIX = "parley:presence:"
KEY_TTL_SECONDS = 24 * 3600
_REFRESH = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local p = cjson.decode(raw)
if type(p['expires']) ~= 'number' or p['expires'] <= tonumber(ARGV[3]) then return 0 end
p['expires'] = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(p))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class RedisPresenceStore:
    def __init__(self, redis: Redis, prefix: str = PRESENCE_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self) -> str:
        return f"{self._prefix}{current_tenant()}"

    async def set(self, presence: AgentPresence) -> None:
        value = {
            "status": presence.status.value,
            "since": _ms(presence.since),
            "expires": _ms(presence.expires_at) if presence.expires_at else None,
        }
        key = self._key()
        with cache_unavailable_on_error():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, presence.user_id, json.dumps(value))
                pipe.expire(key, KEY_TTL_SECONDS)
                await pipe.execute()

    async def refresh(self, user_id: str, expires_at: datetime, now: datetime) -> bool:
        with cache_unavailable_on_error():
            done = await self._redis.eval(
                _REFRESH, 1, self._key(), user_id, _ms(expires_at), _ms(now), KEY_TTL_SECONDS
            )
        return bool(done)

    async def all(self) -> dict[str, AgentPresence]:
        with cache_unavailable_on_error():
            raw = await self._redis.hgetall(self._key())
        found: dict[str, AgentPresence] = {}
        for field, value in raw.items():
            user_id = field.decode() if isinstance(field, bytes) else str(field)
            data = json.loads(value)
            found[user_id] = AgentPresence(
                user_id=user_id,
                status=PresenceStatus(data["status"]),
                since=_at(int(data["since"])),
                expires_at=_at(int(data["expires"])) if data.get("expires") else None,
            )
        return found
