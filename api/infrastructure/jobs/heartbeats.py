"""`Heartbeats` adapter on Redis."""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable

KEY = "parley:jobs:heartbeat"


class RedisHeartbeats:
    def __init__(self, redis: Redis, keep_seconds: int = 86400) -> None:
        self._redis = redis
        self._keep = keep_seconds

    async def record(self, at: datetime) -> None:
        try:
            await self._redis.set(KEY, at.isoformat(), ex=self._keep)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc

    async def last(self) -> datetime | None:
        try:
            raw = await self._redis.get(KEY)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc
        return datetime.fromisoformat(str(raw)) if raw else None
