"""Rate limits as the use cases apply them: over the limit is `RateLimited` (429)."""

from __future__ import annotations

from api.domain.errors import RateLimited
from api.domain.identity.auth import RateLimiter


async def enforce_rate(
    limiter: RateLimiter, key: str, limit: int, window: int = 60, detail: str | None = None
) -> None:
    """Count a hit on `key`; `RateLimited` (with its retry-after, and `detail` when given)
    past `limit` per `window` s."""
    decision = await limiter.hit(key, limit=limit, window_seconds=window)
    if not decision.allowed:
        raise RateLimited(decision.retry_after, detail)
