"""`MarketingLimitMarks` adapter: one Redis key per marked contact,
`parley:mkt-limit:{tenant}:{contact}`, expiring when the mark ends (24 h after the
provider's 131049), so nothing is left to clean up."""

from __future__ import annotations

import math

from redis.asyncio import Redis

from api.domain.tenancy import current_tenant
from api.infrastructure.cache.redis import cache_unavailable_on_error

PREFIX = "parley:mkt-limit:"


class RedisMarketingLimitMarks:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def _key(self, contact_id: str) -> str:
        return f"{PREFIX}{current_tenant()}:{contact_id}"

    async def mark(self, contact_ids: list[str], seconds: float) -> None:
        if not contact_ids:
            return
        keys = [self._key(contact_id) for contact_id in contact_ids]
        with cache_unavailable_on_error():
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, "1", px=max(1, math.ceil(seconds * 1000)))
                await pipe.execute()

    async def marked(self, contact_ids: list[str]) -> set[str]:
        if not contact_ids:
            return set()
        keys = [self._key(contact_id) for contact_id in contact_ids]
        with cache_unavailable_on_error():
            values = await self._redis.mget(keys)
        return {cid for cid, value in zip(contact_ids, values, strict=True) if value is not None}
