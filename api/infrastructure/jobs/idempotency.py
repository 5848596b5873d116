"""`IdempotencyGuard` adapter on Redis: one atomic `SET NX` claim per piece of work."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable

_PREFIX = "parley:idem:"
_DONE = "done"
_HELD = "held"
_RELEASE_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisIdempotencyGuard:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def claim(self, key: str, hold_seconds: int) -> bool:
        try:
            return bool(await self._redis.set(_PREFIX + key, _HELD, nx=True, ex=hold_seconds))
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc

    async def complete(self, key: str, keep_seconds: int) -> None:
        try:
            await self._redis.set(_PREFIX + key, _DONE, ex=keep_seconds)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc

    async def release(self, key: str) -> None:
        try:
            # Only a held claim is released (atomically); a completed one stays done.
            await self._redis.eval(_RELEASE_IF_HELD, 1, _PREFIX + key, _HELD)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc
