"""`RedisStreamInboxFeed` on the real Redis: one reader delivers each tenant's events to its
listeners only, in order, including tenants added while it is blocked; replay after a
cursor and its expiry rules; the reader survives a Redis outage and goes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import devservers
import pytest
from bson import ObjectId
from redis.asyncio import Redis

from api.domain.errors import ServiceUnavailable
from api.domain.messaging.realtime import (
    CursoredEvent,
    CursorExpired,
    InboxEvent,
    InboxEventType,
    InvalidCursor,
)
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.realtime.feed import RedisStreamInboxFeed
from api.infrastructure.realtime.streams import EVENT_FIELD, RedisStreamInboxEvents, stream_key
from tests.support.ai_stack import eventually

DEADLINE = 10.0
RETENTION = 3600


def event(tenant_id: str, n: int, conversation_id: str = "c1") -> InboxEvent:
    return InboxEvent(
        type=InboxEventType.CONVERSATION_UPDATED,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        data={"n": n},
    )


@asynccontextmanager
async def feed_on(redis_url: str, block_ms: int = 5000) -> AsyncIterator[RedisStreamInboxFeed]:
    shared = create_redis(redis_url, socket_timeout=1.0, max_connections=10)
    reader = create_redis(redis_url, socket_timeout=block_ms / 1000 + 1, max_connections=2)
    feed = RedisStreamInboxFeed(shared, reader, retention_seconds=RETENTION, block_ms=block_ms)
    try:
        yield feed
    finally:
        await feed.close()
        await shared.aclose()


def answer(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def checked() -> bool:
        return check()

    return checked


def no(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    return answer(lambda: not check())


class Collected:
    def __init__(self) -> None:
        self.events: list[CursoredEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, cursored: CursoredEvent) -> None:
        self.events.append(cursored)
        self._changed.set()

    async def until(self, count: int) -> list[int]:
        async with asyncio.timeout(DEADLINE):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return [c.event.data["n"] for c in self.events]


async def test_each_tenant_gets_its_own_events_in_order(
    redis_url: str, redis_client: Redis
) -> None:
    acme, beta = str(ObjectId()), str(ObjectId())
    publisher = RedisStreamInboxEvents(redis_client, retention_seconds=RETENTION)
    await publisher.publish(event(acme, 0))  # before anyone listened: not delivered
    async with feed_on(redis_url) as feed:  # a long block: new tenants need the wake-up
        first, second, other = Collected(), Collected(), Collected()
        release_first = await feed.listen(acme, first)
        await feed.listen(acme, second)
        for n in (1, 2):
            await publisher.publish(event(acme, n))
        assert await first.until(2) == [1, 2]
        await feed.listen(beta, other)  # added while the reader is blocked
        started = time.monotonic()
        await publisher.publish(event(beta, 10))
        assert await other.until(1) == [10]
        assert time.monotonic() - started < 2  # woken, not after its 5 s block
        release_first()
        await publisher.publish(event(acme, 3))
        assert await second.until(3) == [1, 2, 3]
        assert [c.event.data["n"] for c in first.events] == [1, 2]
        assert all(c.event.tenant_id == beta for c in other.events)


async def test_replay_after_a_cursor_and_its_expiry(redis_url: str, redis_client: Redis) -> None:
    tenant = str(ObjectId())
    publisher = RedisStreamInboxEvents(redis_client, retention_seconds=RETENTION)
    cursors = [await publisher.publish(event(tenant, n)) for n in range(5)]
    assert all(cursors)
    async with feed_on(redis_url) as feed:
        replayed = await feed.replay(tenant, cursors[1] or "", limit=2)
        assert [c.cursor for c in replayed] == cursors[2:4]
        assert [c.event.data["n"] for c in replayed] == [2, 3]
        assert await feed.replay(tenant, cursors[4] or "", limit=10) == []
        with pytest.raises(CursorExpired):  # older than the retention
            await feed.replay(
                tenant, f"{int(time.time() * 1000) - RETENTION * 1000 - 5000}-0", limit=1
            )
        with pytest.raises(CursorExpired):  # beyond the last id: the stream was reset
            await feed.replay(tenant, f"{int(time.time() * 1000) + 60_000}-0", limit=1)
        with pytest.raises(CursorExpired):  # no stream at all (lost)
            await feed.replay(str(ObjectId()), cursors[0] or "", limit=1)
        with pytest.raises(InvalidCursor):
            await feed.replay(tenant, "yesterday", limit=1)
        await redis_client.xadd(stream_key(tenant), {EVENT_FIELD: "not json"})
        late = await publisher.publish(event(tenant, 5))
        assert [c.cursor for c in await feed.replay(tenant, cursors[4] or "", limit=10)] == [late]


async def test_the_reader_goes_on_after_a_redis_outage(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    log = tmp_path_factory.mktemp("logs") / "redis-outage.log"
    server = devservers.start_redis(log_file=str(log))
    try:
        tenant = str(ObjectId())
        async with feed_on(server.url, block_ms=200) as feed:
            publisher_redis = create_redis(server.url, socket_timeout=1.0, max_connections=5)
            publisher = RedisStreamInboxEvents(publisher_redis, retention_seconds=RETENTION)
            got = Collected()
            await feed.listen(tenant, got)
            await publisher.publish(event(tenant, 1))
            assert await got.until(1) == [1]

            server.kill()  # an outage: the reader's reads fail and it keeps retrying
            await eventually(no(feed.reading.is_set), DEADLINE)
            with pytest.raises(ServiceUnavailable):
                await feed.listen(str(ObjectId()), Collected())
            server = devservers.start_redis(port=server.port, log_file=str(log))

            await eventually(answer(feed.reading.is_set), DEADLINE)
            # Its pool drops the dead connections: the first tries may be lost (best effort).
            await eventually(lambda: publisher.publish(event(tenant, 2)), DEADLINE)
            assert await got.until(2) == [1, 2]
            await publisher_redis.aclose()
    finally:
        server.kill()  # a throwaway: no need to wait for a clean stop
