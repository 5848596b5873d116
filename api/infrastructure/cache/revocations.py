"""`Revocations` adapter on Redis: refused sessions and users, checked on every request.

Keys (each kept for the access-token lifetime plus a minute, after which every token they
could refuse has expired anyway):

- `parley:revoked:sid:{session_id}`: the session's access tokens are refused;
- `parley:revoked:user:{tenant_id or 'platform'}:{user_id}`: epoch seconds; the user's
  tokens with `iat <= value` are refused. `iat` has whole seconds, so a token issued in
  the same second as the revocation is refused too (refusing is the safe side).
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

from api.domain.identity.auth import AccessClaims
from api.infrastructure.cache.redis import cache_unavailable_on_error

_SESSION_PREFIX = "parley:revoked:sid:"
_USER_PREFIX = "parley:revoked:user:"
_GRACE_SECONDS = 60
# Keep the later of the stored and the new revocation time; always refresh the TTL.
_SET_MAX = """
local current = redis.call('get', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then
  redis.call('expire', KEYS[1], ARGV[2])
else
  redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""


def session_key(session_id: str) -> str:
    return _SESSION_PREFIX + session_id


def user_key(tenant_id: str | None, user_id: str) -> str:
    return f"{_USER_PREFIX}{tenant_id or 'platform'}:{user_id}"


class RedisRevocations:
    """Revoked sessions and users in Redis; any Redis failure refuses (`ServiceUnavailable`)."""

    def __init__(self, redis: Redis, access_ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = access_ttl_seconds + _GRACE_SECONDS

    async def revoke_sessions(self, session_ids: list[str]) -> None:
        if not session_ids:
            return
        with cache_unavailable_on_error():
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.set(session_key(session_id), "1", ex=self._ttl)
                await pipe.execute()

    async def revoke_user(self, tenant_id: str | None, user_id: str, at: datetime) -> None:
        with cache_unavailable_on_error():
            await self._redis.eval(
                _SET_MAX, 1, user_key(tenant_id, user_id), repr(at.timestamp()), self._ttl
            )

    async def is_revoked(self, claims: AccessClaims) -> bool:
        keys = [session_key(claims.session_id), user_key(claims.tenant_id, claims.user_id)]
        with cache_unavailable_on_error():
            session_flag, revoked_at = await self._redis.mget(keys)
        if session_flag is not None:
            return True
        if revoked_at is None:
            return False
        try:
            return claims.issued_at.timestamp() <= float(revoked_at)
        except ValueError:
            return True  # an unreadable entry: refuse rather than accept
