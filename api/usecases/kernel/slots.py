"""A provider slot held for one run (`ProviderSlots`): the send job's per channel, the
email job's at the mail server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from api.domain.errors import Deferred, ServiceUnavailable
from api.domain.slots import ProviderSlots


@contextlib.asynccontextmanager
async def provider_slot(
    slots: ProviderSlots,
    key: str,
    holder: str,
    *,
    limit: int,
    hold_seconds: float,
    busy: str,
    retry_after: float,
) -> AsyncIterator[None]:
    """One of `key`'s `limit` slots for `holder` while the block runs (0: no cap), else
    `Deferred(busy, retry_after)`; given back at the end (else it runs out after
    `hold_seconds`, which also frees it should the process die)."""
    if limit == 0:
        yield
        return
    if not await slots.acquire(key, holder, limit=limit, hold_seconds=hold_seconds):
        raise Deferred(busy, retry_after)
    try:
        yield
    finally:
        with contextlib.suppress(ServiceUnavailable):  # it runs out by itself
            await slots.release(key, holder)
