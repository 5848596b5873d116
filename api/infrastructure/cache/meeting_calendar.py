"""`OwnerCalendarLock` on Redis: `parley:crm:calendar:{tenant}:{owner}`, a lease (`SET NX
PX` with a random token, released only by its holder, by script), so that the overlap
check and the write of two concurrent requests for one owner run one after the other,
across API processes."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable
from api.domain.tenancy import current_tenant
from api.infrastructure.cache.redis import cache_unavailable_on_error

CALENDAR_PREFIX = "parley:crm:calendar:"
_POLL_SECONDS = 0.01
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisOwnerCalendarLock:
    """`lease_seconds` bounds how long one holder keeps an owner's calendar (a crashed
    holder's lock goes by itself), `wait_seconds` how long a caller waits for it."""

    def __init__(self, redis: Redis, *, lease_seconds: float = 10, wait_seconds: float = 5) -> None:
        self._redis = redis
        self._lease_ms = int(lease_seconds * 1000)
        self._wait = wait_seconds

    @asynccontextmanager
    async def hold(self, owner_id: str) -> AsyncIterator[None]:
        key, token = f"{CALENDAR_PREFIX}{current_tenant()}:{owner_id}", secrets.token_hex(16)
        deadline = time.monotonic() + self._wait
        with cache_unavailable_on_error():
            held = bool(await self._redis.set(key, token, nx=True, px=self._lease_ms))
            while not held and time.monotonic() < deadline:
                await asyncio.sleep(_POLL_SECONDS)
                held = bool(await self._redis.set(key, token, nx=True, px=self._lease_ms))
        if not held:
            raise ServiceUnavailable(
                "calendar", retry_after=1, detail="The owner's calendar is busy; try again."
            )
        try:
            yield
        finally:
            with suppress(RedisError):  # else the lease runs out by itself
                await self._redis.eval(_RELEASE, 1, key, token)
