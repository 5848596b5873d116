"""The Redis connection pool and its health ping."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable


def create_redis(url: str, *, socket_timeout: float, max_connections: int) -> Redis:
    """One pool per process; timeouts bound how long a request waits on a dead server."""
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        max_connections=max_connections,
        health_check_interval=30,
        decode_responses=True,
    )


class RedisPing:
    """`CachePing` adapter: the PING command."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except RedisError as exc:
            raise ServiceUnavailable("cache") from exc
