"""The Redis connection pool, its health ping, and what a Redis failure means to a caller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.asyncio import Redis
from redis.driver_info import DriverInfo
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable


@contextmanager
def cache_unavailable_on_error() -> Iterator[None]:
    """Any Redis failure in the block (unreachable, timed out, refused) is raised as
    `ServiceUnavailable("cache")`, the original chained: what every Redis adapter's caller
    gets (a 503 with `Retry-After` at the HTTP edge, a retry in a job)."""
    try:
        yield
    except RedisError as exc:
        raise ServiceUnavailable("cache") from exc


def create_redis(url: str, *, socket_timeout: float, max_connections: int) -> Redis:
    """One pool per process; timeouts bound how long a request waits on a dead server.

    The client's name and version (`CLIENT SETINFO`) are given here: redis-py reads its
    version from the installed package's metadata for every new connection otherwise
    (~2 ms each on the event loop; a burst of requests opening 50 held it ~100 ms), and
    for every client when not given (a process makes a few; the tests one per app)."""
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        max_connections=max_connections,
        health_check_interval=30,
        decode_responses=True,
        driver_info=DriverInfo(lib_version=redis.__version__),
    )


class RedisPing:
    """`CachePing` adapter: the PING command."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def ping(self) -> None:
        with cache_unavailable_on_error():
            await self._redis.ping()
