"""Auto-assignment's shared state and the out-of-hours marks on Redis, per tenant.

- `parley:assign:{tenant}:lock`: the tenant's assignment lock, a lease (`SET NX PX` with
  a random token, released only by its holder, by script);
- `parley:assign:{tenant}:last`: the agent the last auto-assignment chose;
- `parley:ooh:{tenant}:{conversation}:{period}`: an out-of-hours reply claimed (`SET NX`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.tenancy import current_tenant
from api.infrastructure.cache.redis import cache_unavailable_on_error

ASSIGN_PREFIX = "parley:assign:"
OUT_OF_HOURS_PREFIX = "parley:ooh:"
_POLL_SECONDS = 0.01
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisAssignmentState:
    """`AssignmentState` adapter: `lease_seconds` bounds how long one holder keeps the
    lock, `wait_seconds` how long a caller waits for it."""

    def __init__(self, redis: Redis, *, lease_seconds: float = 10, wait_seconds: float = 5) -> None:
        self._redis = redis
        self._lease_ms = int(lease_seconds * 1000)
        self._wait = wait_seconds

    def _key(self, name: str) -> str:
        return f"{ASSIGN_PREFIX}{current_tenant()}:{name}"

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[bool]:
        key, token = self._key("lock"), secrets.token_hex(16)
        deadline = time.monotonic() + self._wait
        with cache_unavailable_on_error():
            held = bool(await self._redis.set(key, token, nx=True, px=self._lease_ms))
            while not held and time.monotonic() < deadline:
                await asyncio.sleep(_POLL_SECONDS)
                held = bool(await self._redis.set(key, token, nx=True, px=self._lease_ms))
        try:
            yield held
        finally:
            if held:
                with suppress(RedisError):  # else the lease runs out by itself
                    await self._redis.eval(_RELEASE, 1, key, token)

    async def last_assigned(self) -> str | None:
        with cache_unavailable_on_error():
            raw = await self._redis.get(self._key("last"))
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def remember(self, agent_id: str) -> None:
        with cache_unavailable_on_error():
            await self._redis.set(self._key("last"), agent_id)


class RedisOutOfHoursMarks:
    """`OutOfHoursMarks` adapter."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def _key(self, conversation_id: str, period: str) -> str:
        return f"{OUT_OF_HOURS_PREFIX}{current_tenant()}:{conversation_id}:{period}"

    async def claim(self, conversation_id: str, period: str, ttl_seconds: int) -> bool:
        with cache_unavailable_on_error():
            return bool(
                await self._redis.set(
                    self._key(conversation_id, period), "1", nx=True, ex=max(ttl_seconds, 1)
                )
            )

    async def release(self, conversation_id: str, period: str) -> None:
        with cache_unavailable_on_error():
            await self._redis.delete(self._key(conversation_id, period))
