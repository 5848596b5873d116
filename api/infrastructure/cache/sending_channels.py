"""`CachedSendingChannels`: the channel a send job sends through, from process memory for
a few seconds.

Every send job reads its message's channel, and on the embedded database server each read
costs about as much CPU as the send's own work around it (bench/README.md, "sends.py").
An active channel is kept `ttl_seconds` (`SEND_CHANNEL_CACHE_SECONDS`, 0 turns the cache
off) per tenant and id, so a change to it (a new token, new `messages_per_second`, a
disconnection) reaches this process's sends within that time. What could make that
visible is handled where it shows: a token the provider refuses (190) is read again
before the channel is marked `token_invalid`, and a send retried with the new token when
it was rotated (`DeliverOutboundMessage`). A channel that is not active is never kept
(its messages fail only on what is stored now), nor are unknown ids; at most
`max_entries` channels are kept (the oldest go first).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from api.domain.clock import Clock
from api.domain.messaging.channels import Channel, ChannelRepository, ChannelStatus
from api.domain.tenancy import current_tenant


class CachedSendingChannels:
    """`SendingChannels` over the tenant's `ChannelRepository`."""

    def __init__(
        self,
        channels: ChannelRepository,
        clock: Clock,
        ttl_seconds: float,
        max_entries: int = 10_000,
    ) -> None:
        self._channels = channels
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[datetime, Channel]] = OrderedDict()

    async def get(self, channel_id: str) -> Channel | None:
        key = (current_tenant(), channel_id)  # no tenant: `TenantRequired`, nothing read
        entry = self._entries.get(key)
        if entry is not None and self._clock.now() < entry[0]:
            return entry[1]
        return await self._read(key)

    async def fresh(self, channel_id: str) -> Channel | None:
        return await self._read((current_tenant(), channel_id))

    def forget(self, channel_id: str) -> None:
        self._entries.pop((current_tenant(), channel_id), None)

    async def _read(self, key: tuple[str, str]) -> Channel | None:
        channel = await self._channels.get(key[1])
        if not self._ttl or channel is None or channel.status is not ChannelStatus.ACTIVE:
            self._entries.pop(key, None)
            return channel
        self._entries[key] = (self._clock.now() + self._ttl, channel)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return channel
