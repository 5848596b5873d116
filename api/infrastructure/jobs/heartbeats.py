"""`Heartbeats` adapter on Redis."""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

from api.infrastructure.cache.redis import cache_unavailable_on_error

KEY = "parley:jobs:heartbeat"


class RedisHeartbeats:
    def __init__(self, redis: Redis, keep_seconds: int = 86400) -> None:
        self._redis = redis
        self._keep = keep_seconds

    async def record(self, at: datetime) -> None:
        with cache_unavailable_on_error():
            await self._redis.set(KEY, at.isoformat(), ex=self._keep)

    async def last(self) -> datetime | None:
        with cache_unavailable_on_error():
            raw = await self._redis.get(KEY)
        return datetime.fromisoformat(str(raw)) if raw else None
