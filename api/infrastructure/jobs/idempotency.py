"""`IdempotencyGuard` adapter on Redis: one atomic `SET NX` claim per piece of work."""

from __future__ import annotations

from redis.asyncio import Redis

from api.infrastructure.cache.redis import cache_unavailable_on_error

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
        with cache_unavailable_on_error():
            return bool(await self._redis.set(_PREFIX + key, _HELD, nx=True, ex=hold_seconds))

    async def complete(self, key: str, keep_seconds: int) -> None:
        with cache_unavailable_on_error():
            await self._redis.set(_PREFIX + key, _DONE, ex=keep_seconds)

    async def release(self, key: str) -> None:
        with cache_unavailable_on_error():
            # Only a held claim is released (atomically); a completed one stays done.
            await self._redis.eval(_RELEASE_IF_HELD, 1, _PREFIX + key, _HELD)
