"""The webhook's channel cache: hits within the TTL, fresh reads after it, no memory of
unknown ids, a bound on its size, and off at 0."""

from __future__ import annotations

from api.domain.messaging.channels import Channel, ChannelStatus, ChannelType
from api.infrastructure.cache.channel_lookup import CachedChannelLookup
from api.infrastructure.security.secret_box import FernetSecretBox, derive_dev_key
from tests.fakes.clock import FakeUtcClock
from tests.support.channels import whatsapp_channel


class CountingLookup:
    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.reads = 0

    async def by_id(self, channel_id: str) -> Channel | None:
        self.reads += 1
        return self.channels.get(channel_id)

    async def by_account(self, type: ChannelType, account_id: str) -> Channel | None:
        self.reads += 1
        return None

    async def by_business_account(
        self, type: ChannelType, business_account_id: str
    ) -> list[Channel]:
        self.reads += 1
        return []


def _channel(channel_id: str) -> Channel:
    return whatsapp_channel(
        FernetSecretBox(derive_dev_key("cache-tests")), "http://graph.test", channel_id=channel_id
    )


async def test_a_found_channel_is_read_once_per_ttl() -> None:
    inner, clock = CountingLookup(), FakeUtcClock()
    inner.channels["a"] = _channel("a")
    lookup = CachedChannelLookup(inner, clock, ttl_seconds=5)
    assert (await lookup.by_id("a")) == inner.channels["a"]
    clock.advance(seconds=4.9)
    await lookup.by_id("a")
    assert inner.reads == 1
    disconnected = inner.channels["a"].model_copy(update={"status": ChannelStatus.DISCONNECTED})
    inner.channels["a"] = disconnected
    clock.advance(seconds=0.1)  # the TTL is over: the change shows
    assert (await lookup.by_id("a")) == disconnected
    assert inner.reads == 2


async def test_unknown_ids_are_not_remembered_and_a_gone_channel_is_dropped() -> None:
    inner, clock = CountingLookup(), FakeUtcClock()
    lookup = CachedChannelLookup(inner, clock, ttl_seconds=5)
    assert await lookup.by_id("new") is None
    inner.channels["new"] = _channel("new")  # connected a moment later: found at once
    assert await lookup.by_id("new") is not None
    del inner.channels["new"]
    clock.advance(seconds=6)
    assert await lookup.by_id("new") is None
    assert await lookup.by_id("new") is None
    assert inner.reads == 4


async def test_the_cache_is_bounded_and_off_at_zero() -> None:
    inner, clock = CountingLookup(), FakeUtcClock()
    for name in ("a", "b", "c"):
        inner.channels[name] = _channel(name)
    bounded = CachedChannelLookup(inner, clock, ttl_seconds=60, max_entries=2)
    for name in ("a", "b", "c", "c", "b"):
        await bounded.by_id(name)
    assert inner.reads == 3
    await bounded.by_id("a")  # the oldest went first
    assert inner.reads == 4

    inner.reads = 0
    off = CachedChannelLookup(inner, clock, ttl_seconds=0)
    await off.by_id("a")
    await off.by_id("a")
    assert inner.reads == 2


async def test_lookups_by_account_pass_through() -> None:
    inner = CountingLookup()
    lookup = CachedChannelLookup(inner, FakeUtcClock(), ttl_seconds=60)
    await lookup.by_account(ChannelType.WHATSAPP, "123")
    await lookup.by_account(ChannelType.WHATSAPP, "123")
    await lookup.by_business_account(ChannelType.WHATSAPP, "waba")
    assert inner.reads == 3
