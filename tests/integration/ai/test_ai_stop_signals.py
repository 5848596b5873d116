"""Stop requests across API replicas on real Redis pub/sub (`RedisStopSignals`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import devservers
import pytest
from redis.asyncio import Redis

from api.domain.errors import ServiceUnavailable
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.cache.stop_signals import RESUBSCRIBE_SECONDS, RedisStopSignals

WAIT = 2.0  # seconds for something that should happen at once


class Calls:
    """A watcher callback that counts its calls and can be awaited."""

    def __init__(self) -> None:
        self.count = 0
        self.called = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.called.set()

    async def wait(self) -> None:
        async with asyncio.timeout(WAIT):
            await self.called.wait()


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[RedisStopSignals, RedisStopSignals]]:
    """Two API processes' stop signals, each with a Redis client of its own."""
    clients = [Redis.from_url(redis_url, socket_timeout=2.0) for _ in range(2)]
    signals = [RedisStopSignals(client) for client in clients]
    try:
        yield signals[0], signals[1]
    finally:
        for one in signals:
            await one.close()
        for client in clients:
            await client.aclose()


async def subscribed(*signals: RedisStopSignals) -> None:
    async with asyncio.timeout(WAIT):
        for one in signals:
            one.start()
            await one.subscribed.wait()


async def test_a_request_on_one_replica_stops_the_watcher_on_another(
    replicas: tuple[RedisStopSignals, RedisStopSignals],
) -> None:
    running, other = replicas
    on_stop = Calls()
    running.watch("tenant-a:c1", on_stop)
    await subscribed(running)
    await other.request("tenant-a:c1")
    await on_stop.wait()
    assert on_stop.count >= 1


async def test_a_local_request_calls_the_local_watcher_at_once(
    replicas: tuple[RedisStopSignals, RedisStopSignals],
) -> None:
    running, _ = replicas
    on_stop = Calls()
    running.watch("tenant-a:c1", on_stop)
    await running.request("tenant-a:c1")
    # Called before the publish went out, not on its way back from Redis.
    assert on_stop.count >= 1


async def test_a_local_request_calls_the_watcher_even_when_redis_is_down() -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{devservers.free_port()}/0", socket_timeout=0.5)
    signals = RedisStopSignals(dead)
    on_stop = Calls()
    try:
        signals.watch("tenant-a:c1", on_stop)
        with pytest.raises(ServiceUnavailable):
            await signals.request("tenant-a:c1")
        assert on_stop.count == 1
        assert not signals.subscribed.is_set()
    finally:
        await signals.close()
        await dead.aclose()


async def test_released_watchers_and_other_keys_are_not_called(
    replicas: tuple[RedisStopSignals, RedisStopSignals],
) -> None:
    running, other = replicas
    released, kept, elsewhere, same_key_other_replica = Calls(), Calls(), Calls(), Calls()
    release = running.watch("tenant-a:c1", released)
    running.watch("tenant-a:c1", kept)
    running.watch("tenant-a:c2", elsewhere)
    running.watch("tenant-b:c1", elsewhere)
    other.watch("tenant-a:c1", same_key_other_replica)
    release()
    release()  # twice is harmless
    await subscribed(running, other)
    await other.request("tenant-a:c1")
    await kept.wait()
    await same_key_other_replica.wait()
    # Every watcher of a key is called in the same dispatch as `kept`: had the released
    # one or another key's been called, it would have been by now.
    assert released.count == 0 and elsewhere.count == 0


async def test_releasing_the_last_watcher_leaves_the_others(
    replicas: tuple[RedisStopSignals, RedisStopSignals],
) -> None:
    running, other = replicas
    first, second = Calls(), Calls()
    release_first = running.watch("k", first)
    release_second = running.watch("k", second)
    release_second()
    await subscribed(running)
    await other.request("k")
    await first.wait()
    assert second.count == 0
    release_first()
    await running.request("k")  # nobody left: nothing to call, no error
    assert first.count >= 1


async def test_close_stops_the_listener(redis_url: str) -> None:
    client, observer = Redis.from_url(redis_url), Redis.from_url(redis_url)
    channel = f"test:ai:stop:{uuid.uuid4().hex}"  # its own: other tests' listeners may linger
    signals = RedisStopSignals(client, channel=channel)
    try:
        signals.watch("k", Calls())
        await subscribed(signals)

        listener = signals._listener
        assert listener is not None
        assert not listener.done()
        assert dict(await observer.pubsub_numsub(channel)) == {channel.encode(): 1}
        await signals.close()
        assert listener.done()
        assert signals._listener is None
        # Redis sees the subscription go (it may take a busy server a moment).
        for _ in range(1000):
            if dict(await observer.pubsub_numsub(channel)) == {channel.encode(): 0}:
                break
            await asyncio.sleep(0.01)
        assert dict(await observer.pubsub_numsub(channel)) == {channel.encode(): 0}
        await signals.close()  # twice is harmless
    finally:
        await signals.close()
        await client.aclose()
        await observer.aclose()


async def test_close_right_after_start_ends_the_listener(redis_url: str) -> None:
    """An app stopped as soon as it started: the close lands while the listener connects
    (redis-py swallowed that cancellation; the listener lived on and the close waited)."""
    client = create_redis(redis_url, socket_timeout=1.0, max_connections=5)  # as the app's
    observer = Redis.from_url(redis_url)
    channel = f"test:ai:stop:{uuid.uuid4().hex}"
    signals = RedisStopSignals(client, channel=channel)
    try:
        await client.ping()  # the app's pool is in use when the listener starts
        signals.start()
        listener = signals._listener
        assert listener is not None
        await asyncio.sleep(0)  # the listener is on its way to subscribing
        await signals.close()
        assert listener.done()
        await asyncio.sleep(RESUBSCRIBE_SECONDS * 1.5)  # it would have subscribed again by now
        assert dict(await observer.pubsub_numsub(channel)) == {channel.encode(): 0}
    finally:
        await signals.close()
        await client.aclose()
        await observer.aclose()
