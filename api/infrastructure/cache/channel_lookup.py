"""`CachedChannelLookup`: a webhook's channel read from process memory for a few seconds.

Every webhook delivery names its channel by id, and a busy channel receives hundreds a
second: reading it from the database each time was about a fifth of the cost of an
acknowledgement (bench/README.md). A found channel is kept `ttl_seconds`
(`WEBHOOK_CHANNEL_CACHE_SECONDS`, 0 turns the cache off), so a change to it (a rotated app
secret, a disconnection) reaches this process's webhooks within that time; what a delivery
then does is checked again when its job processes it. Unknown ids are not remembered (a
channel connected a moment ago is found at once), and at most `max_entries` channels are
kept (the oldest go first). Lookups by provider account pass through.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from api.domain.clock import Clock
from api.domain.messaging.channels import Channel, ChannelType
from api.domain.messaging.webhooks import ChannelLookup


class CachedChannelLookup:
    """`ChannelLookup` decorator caching `by_id` hits for `ttl_seconds`."""

    def __init__(
        self, inner: ChannelLookup, clock: Clock, ttl_seconds: float, max_entries: int = 10_000
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[datetime, Channel]] = OrderedDict()

    async def by_id(self, channel_id: str) -> Channel | None:
        if not self._ttl:
            return await self._inner.by_id(channel_id)
        now = self._clock.now()
        entry = self._entries.get(channel_id)
        if entry is not None and now < entry[0]:
            return entry[1]
        channel = await self._inner.by_id(channel_id)
        if channel is None:
            self._entries.pop(channel_id, None)
            return None
        self._entries[channel_id] = (now + self._ttl, channel)
        self._entries.move_to_end(channel_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return channel

    async def by_account(self, type: ChannelType, account_id: str) -> Channel | None:
        return await self._inner.by_account(type, account_id)

    async def by_business_account(
        self, type: ChannelType, business_account_id: str
    ) -> list[Channel]:
        return await self._inner.by_business_account(type, business_account_id)
