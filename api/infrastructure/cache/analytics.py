"""Recent dashboard answers in Redis: `parley:analytics:{tenant}:{key}`, kept the number
of seconds asked (`SET EX`). Redis failing reads as a miss and skips the write (logged):
the dashboard is then computed, never refused for its cache."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.analytics.dashboard import Dashboard
from api.domain.tenancy import current_tenant

PREFIX = "parley:analytics:"
log = logging.getLogger(__name__)


class RedisDashboardCache:
    """`DashboardCache` adapter (per tenant: the key names the current tenant)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def _key(self, key: str) -> str:
        return f"{PREFIX}{current_tenant()}:{key}"

    async def get(self, key: str) -> Dashboard | None:
        try:
            raw = await self._redis.get(self._key(key))
        except RedisError:
            log.warning("dashboard cache unreadable; computing the answer")
            return None
        if raw is None:
            return None
        try:
            return Dashboard.model_validate_json(raw)
        except ValidationError:  # written by another version: compute it again
            return None

    async def put(self, key: str, dashboard: Dashboard, seconds: int) -> None:
        try:
            await self._redis.set(self._key(key), dashboard.model_dump_json(), ex=seconds)
        except RedisError:
            log.warning("dashboard cache unwritable; answer not cached")
