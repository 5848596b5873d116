"""`RedisStreamInboxEvents` on the real Redis: one stream per tenant, the entry id is the
cursor, entries past the retention are trimmed, and an unreachable Redis loses the event
without failing the caller."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from redis.asyncio import Redis

from api.domain.errors import ServiceUnavailable
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import ContactSummary, Conversation
from api.domain.messaging.realtime import InboxEvent, InboxEventType
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.realtime.streams import EVENT_FIELD, RedisStreamInboxEvents, stream_key
from tests.support.realtime import stream_entries

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def conversation(tenant_id: str) -> Conversation:
    return Conversation(
        id=str(ObjectId()), tenant_id=tenant_id, channel_id=str(ObjectId()),
        channel_type=ChannelType.WHATSAPP, contact=ContactSummary(id=str(ObjectId()), name="Ana"),
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


async def test_an_event_lands_in_its_tenants_stream_with_its_cursor(redis_client: Redis) -> None:
    tenant, other = str(ObjectId()), str(ObjectId())
    events = RedisStreamInboxEvents(redis_client, retention_seconds=3600)
    event = InboxEvent.of_conversation(InboxEventType.CONVERSATION_CREATED, conversation(tenant))

    cursor = await events.publish(event)

    assert cursor is not None
    entries = await stream_entries(redis_client, tenant)
    assert [entry_id for entry_id, _ in entries] == [cursor]
    stored = InboxEvent.model_validate(json.loads(entries[0][1][EVENT_FIELD]))
    assert stored == event and stored.data["contact"]["name"] == "Ana"
    assert await redis_client.exists(stream_key(other)) == 0


async def test_entries_older_than_the_retention_are_trimmed(redis_client: Redis) -> None:
    tenant = str(ObjectId())
    key = stream_key(tenant)
    now_ms = int(time.time() * 1000)
    await redis_client.xadd(key, {EVENT_FIELD: "{}"}, id=f"{now_ms - 3_700_000}-0")  # too old
    await redis_client.xadd(key, {EVENT_FIELD: "{}"}, id=f"{now_ms - 3_000_000}-0")  # kept
    events = RedisStreamInboxEvents(redis_client, retention_seconds=3600)

    cursor = await events.publish(
        InboxEvent.of_conversation(InboxEventType.CONVERSATION_UPDATED, conversation(tenant))
    )

    ids = [entry_id for entry_id, _ in await stream_entries(redis_client, tenant)]
    assert ids == [f"{now_ms - 3_000_000}-0", cursor]


async def test_an_unreachable_redis_drops_the_event_without_raising() -> None:
    dead = create_redis("redis://127.0.0.1:1/0", socket_timeout=1.0, max_connections=1)
    try:
        events = RedisStreamInboxEvents(dead, retention_seconds=3600)
        event = InboxEvent.of_conversation(
            InboxEventType.CONVERSATION_CREATED, conversation(str(ObjectId()))
        )
        assert await events.publish(event) is None
    finally:
        await dead.aclose()


async def test_an_erasure_forgets_every_event_of_its_conversations_only(
    redis_client: Redis,
) -> None:
    tenant, other = str(ObjectId()), str(ObjectId())
    events = RedisStreamInboxEvents(redis_client, retention_seconds=3600)
    erased, kept = conversation(tenant), conversation(tenant)
    elsewhere = conversation(other).model_copy(update={"id": erased.id})  # same id, other tenant
    for _ in range(600):  # more than one batch of the sweep
        await events.publish(
            InboxEvent.of_conversation(InboxEventType.CONVERSATION_UPDATED, erased)
        )
    for item in (kept, elsewhere):
        await events.publish(InboxEvent.of_conversation(InboxEventType.CONVERSATION_UPDATED, item))
    presence = InboxEvent(type=InboxEventType.PRESENCE_UPDATED, tenant_id=tenant,
                          data={"note": f'"conversation_id":"{erased.id}"'})  # fmt: skip
    await events.publish(presence)  # names the id in its data only: kept

    assert await events.forget_conversations(tenant, [erased.id or ""]) == 600
    left = [
        InboxEvent.model_validate(json.loads(fields[EVENT_FIELD]))
        for _, fields in await stream_entries(redis_client, tenant)
    ]
    assert [e.conversation_id for e in left] == [kept.id, None]
    assert len(await stream_entries(redis_client, other)) == 1
    assert await events.forget_conversations(tenant, [erased.id or ""]) == 0
    assert await events.forget_conversations(tenant, []) == 0
    assert await events.forget_conversations(str(ObjectId()), [erased.id or ""]) == 0


async def test_forgetting_with_redis_away_is_service_unavailable() -> None:
    dead = create_redis("redis://127.0.0.1:1/0", socket_timeout=1.0, max_connections=1)
    try:
        events = RedisStreamInboxEvents(dead, retention_seconds=3600)
        with pytest.raises(ServiceUnavailable):
            await events.forget_conversations(str(ObjectId()), [str(ObjectId())])
    finally:
        await dead.aclose()
