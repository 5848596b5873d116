"""Recent analytics answers in Redis, kept the number of seconds asked (`SET EX`): a
tenant's dashboard at `parley:analytics:{tenant}:{key}`, the platform's figures at
`parley:analytics:platform:{key}`. Redis failing reads as a miss and skips the write
(logged): the answer is then computed, never refused for its cache."""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.analytics.dashboard import Dashboard
from api.domain.analytics.platform import PlatformAnalytics
from api.domain.tenancy import current_tenant

PREFIX = "parley:analytics:"
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class _AnswerCache(Generic[M]):
    model: type[M]

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def _key(self, key: str) -> str:
        raise NotImplementedError

    async def get(self, key: str) -> M | None:
        try:
            raw = await self._redis.get(self._key(key))
        except RedisError:
            log.warning("analytics cache unreadable; computing the answer")
            return None
        if raw is None:
            return None
        try:
            return self.model.model_validate_json(raw)
        except ValidationError:  # written by another version: compute it again
            return None

    async def put(self, key: str, answer: M, seconds: int) -> None:
        try:
            await self._redis.set(self._key(key), answer.model_dump_json(), ex=seconds)
        except RedisError:
            log.warning("analytics cache unwritable; answer not cached")


class RedisDashboardCache(_AnswerCache[Dashboard]):
    """`DashboardCache` adapter (per tenant: the key names the current tenant)."""

    model = Dashboard

    def _key(self, key: str) -> str:
        return f"{PREFIX}{current_tenant()}:{key}"


class RedisPlatformAnalyticsCache(_AnswerCache[PlatformAnalytics]):
    """`PlatformAnalyticsCache` adapter (no tenant: the platform's figures)."""

    model = PlatformAnalytics

    def _key(self, key: str) -> str:
        return f"{PREFIX}platform:{key}"
