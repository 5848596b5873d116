"""`JobOutcomes` adapter: one Redis hash of counters, `task|outcome` -> runs.

Every worker process, on any host and in any pool, adds to the same hash (HINCRBY is
atomic), and the API reads it at scrape time: the counts are cluster-wide and survive
worker restarts.
"""

from __future__ import annotations

from redis.asyncio import Redis

from api.infrastructure.cache.redis import cache_unavailable_on_error

KEY = "parley:metrics:jobs"
_SEP = "|"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisJobOutcomes:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def record(self, task: str, outcome: str) -> None:
        with cache_unavailable_on_error():
            await self._redis.hincrby(KEY, f"{task}{_SEP}{outcome}", 1)

    async def counts(self) -> dict[tuple[str, str], int]:
        with cache_unavailable_on_error():
            raw = await self._redis.hgetall(KEY)
        counts: dict[tuple[str, str], int] = {}
        for field, value in raw.items():
            task, _, outcome = _text(field).rpartition(_SEP)
            counts[(task, outcome)] = int(value)
        return counts
