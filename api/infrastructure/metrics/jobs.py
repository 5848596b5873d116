"""`JobOutcomes` adapter: one Redis hash of counters, `task|outcome` -> runs.

Every worker process, on any host and in any pool, adds to the same hash (HINCRBY is
atomic), and the API reads it at scrape time: the counts are cluster-wide and survive
worker restarts.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable

KEY = "parley:metrics:jobs"
_SEP = "|"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisJobOutcomes:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def record(self, task: str, outcome: str) -> None:
        try:
            await self._redis.hincrby(KEY, f"{task}{_SEP}{outcome}", 1)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc

    async def counts(self) -> dict[tuple[str, str], int]:
        try:
            raw = await self._redis.hgetall(KEY)
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc
        counts: dict[tuple[str, str], int] = {}
        for field, value in raw.items():
            task, _, outcome = _text(field).rpartition(_SEP)
            counts[(task, outcome)] = int(value)
        return counts
